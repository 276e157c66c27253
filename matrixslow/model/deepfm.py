"""DeepFM (Guo et al. 2017): a factorization machine and an MLP that share the field embeddings."""

from ..core.scope import name_scope
from ..ops import Add, Multiply
from .blocks import binary_head, check_positive, check_sizes, input_variable, pairwise_interactions
from .fields import FieldModel, column_fields, deep_part, field_embeddings, field_inputs, wide_part


def deepfm(fields, k, hidden_sizes):
    """Binary DeepFM: logit = linear(x) + sum_{f<g} <e_f, e_g> + deep(e_1, ..., e_F), LogLoss.

    e_f = E_f x_f is field f's embedding (a look-up for a one-hot field, a sum
    for a multi-hot one). The FM's pairwise term and the deep part read the
    same e_f nodes, so both train the same E_f.

    Parameters
    ----------
    fields : mapping
        Field name -> number of columns or list of column indices (see
        ``matrixslow.model.fields``); one input (size_f, 1) per field, named after it.
    k : int
        Embedding size of every field ("Embedding/<field>").
    hidden_sizes : list of int
        The deep part's ReLU layers.

    Returns
    -------
    FieldModel
        parts: "linear" (scope "Wide"), "pairwise" (scope "FM") and "deep",
        each (1, 1); ``embeddings``: field -> e_f.
    """
    builder = "deepfm"
    columns = column_fields(builder, fields)
    k = check_positive(builder, "k", k)
    hidden_sizes = check_sizes(builder, "hidden_sizes", hidden_sizes)

    inputs = field_inputs(columns)
    label = input_variable((1, 1), "label")
    embedded = field_embeddings(columns, inputs, k)
    linear = wide_part(inputs, columns)
    with name_scope("FM"):
        vectors = list(embedded.values())
        total = Add(*vectors)
        square_of_sum = Multiply(total, total)
        sum_of_squares = Add(*(Multiply(vector, vector) for vector in vectors))
        pairwise = pairwise_interactions(square_of_sum, sum_of_squares)
    deep = deep_part(embedded, k, hidden_sizes)
    logit = Add(linear, pairwise, deep, name="logit")
    return FieldModel(
        name=builder,
        inputs=inputs,
        label=label,
        **binary_head(logit, label),
        parts={"linear": linear, "pairwise": pairwise, "deep": deep},
        fields=columns,
        embeddings=embedded,
    )
