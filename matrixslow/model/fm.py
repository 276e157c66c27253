"""The factorization machine (Rendle 2010): a linear model plus factorised pairwise interactions."""

import numpy as np

from ..core.scope import name_scope
from ..core.variable import Variable
from ..ops import Add, Concat, MatMul, Multiply
from .base import Model
from .blocks import binary_head, check_positive, input_variable, pairwise_interactions
from .fields import FieldModel, column_fields, field_inputs


def factorization_machine(input_size, k, fields=None):
    """Binary FM: logit = w x + b + sum_{i<j} <v_i, v_j> x_i x_j, labels in {0, 1}, LogLoss.

    The pairwise sum is computed as 0.5 * sum_f [(V x)_f^2 - ((V*V)(x*x))_f] with
    V of shape (k, input_size): O(k n) per sample, no loop over pairs.

    Parameters
    ----------
    input_size : int
        Number of features n.
    k : int
        Number of latent factors (rows of V).
    fields : mapping, optional
        Without it the model has one input "x" (n, 1). With it (see
        ``model.fields``) it has one input per field, concatenated in field order
        into x, and ``feed`` splits a table's columns by field; the field sizes
        must add up to ``input_size``.

    Returns
    -------
    Model (FieldModel with ``fields``)
        parts: "linear" (w x + b), "pairwise" (the interaction term). The
        trainable Variables are "FM/w" (1, n), "FM/b" (1, 1) and "FM/V" (k, n).
    """
    builder = "factorization_machine"
    input_size, k = check_positive(builder, "input_size", input_size), check_positive(builder, "k", k)
    if fields is None:
        columns = None
        inputs = [input_variable((input_size, 1), "x")]
        x = inputs[0]
    else:
        columns = column_fields(builder, fields)
        total = sum(len(indices) for indices in columns.values())
        if total != input_size:
            raise ValueError(f"{builder}: the fields have {total} columns in all, but input_size is {input_size}")
        inputs = field_inputs(columns)
    label = input_variable((1, 1), "label")

    with name_scope("FM"):
        if columns is not None:
            x = Concat(*inputs, name="x")
        w = Variable((1, input_size), init="glorot", trainable=True, name="w")
        b = Variable((1, 1), init=False, trainable=True, name="b")
        b.set_value(np.zeros((1, 1)))
        factors = Variable((k, input_size), init="glorot", trainable=True, name="V")
        linear = Add(MatMul(w, x), b, name="linear")
        projected = MatMul(factors, x)  # (k, 1): sum_i v_i x_i
        square_of_sum = Multiply(projected, projected)
        sum_of_squares = MatMul(Multiply(factors, factors), Multiply(x, x))  # sum_i v_i^2 x_i^2
        pairwise = pairwise_interactions(square_of_sum, sum_of_squares)
        logit = Add(linear, pairwise, name="logit")

    parts = {"linear": linear, "pairwise": pairwise}
    heads = binary_head(logit, label)
    if columns is None:
        return Model(name=builder, inputs=inputs, label=label, parts=parts, **heads)
    return FieldModel(name=builder, inputs=inputs, label=label, parts=parts, fields=columns, **heads)
