"""Wide & Deep (Cheng et al. 2016): a linear model on every column plus an MLP on field embeddings."""

from ..ops import Add
from .blocks import binary_head, check_positive, check_sizes, input_variable
from .fields import FieldModel, column_fields, deep_part, field_embeddings, field_inputs, wide_part


def wide_and_deep(fields, k, hidden_sizes):
    """Binary Wide & Deep: logit = wide(x) + deep(E_1 x_1, ..., E_F x_F), labels in {0, 1}, LogLoss.

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
        parts: "wide" and "deep" (each (1, 1)); ``embeddings``: field -> E_f x_f.
    """
    builder = "wide_and_deep"
    columns = column_fields(builder, fields)
    k = check_positive(builder, "k", k)
    hidden_sizes = check_sizes(builder, "hidden_sizes", hidden_sizes)

    inputs = field_inputs(columns)
    label = input_variable((1, 1), "label")
    embedded = field_embeddings(columns, inputs, k)
    wide = wide_part(inputs, columns)
    deep = deep_part(embedded, k, hidden_sizes)
    logit = Add(wide, deep, name="logit")
    return FieldModel(
        name=builder,
        inputs=inputs,
        label=label,
        **binary_head(logit, label),
        parts={"wide": wide, "deep": deep},
        fields=columns,
        embeddings=embedded,
    )
