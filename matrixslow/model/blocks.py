"""Pieces several builders share: input and constant Variables, output heads, the FM pairwise term, checks."""

import numpy as np

from ..core.scope import name_scope
from ..core.variable import Variable
from ..layer import fc
from ..ops import Add, Logistic, ScalarMultiply, SoftMax, Sum
from ..ops.loss import CrossEntropyWithSoftMax, LogLoss


def input_variable(dim, name):
    """A non-trainable Variable the data is fed into (an input or a label)."""
    return Variable(dim, init=False, trainable=False, name=name)


def constant(value, name):
    """A non-trainable Variable holding a fixed matrix.

    The engine has no Constant node; a Variable is a registered node type that
    keeps its value, so a saved graph rebuilds the constant with the rest.
    """
    value = np.asarray(value, dtype=float)
    node = Variable(value.shape, init=False, trainable=False, name=name)
    node.set_value(value)
    return node


def binary_head(logit, label):
    """A binary classifier's Model fields on its (1, 1) logit: a Logistic "predict" and a LogLoss "loss"."""
    return {"logits": logit, "predict": Logistic(logit, name="predict"), "loss": LogLoss(logit, label, name="loss")}


def softmax_head(logits, label):
    """A multi-class classifier's Model fields on its (classes, 1) logits: SoftMax "predict", cross-entropy "loss"."""
    return {
        "logits": logits,
        "predict": SoftMax(logits, name="predict"),
        "loss": CrossEntropyWithSoftMax(logits, label, name="loss"),
    }


def hidden_layers(features, size, hidden_sizes, activation="ReLU"):
    """Fully connected layers in scopes "Hidden1", "Hidden2", ...; returns (last node, its width)."""
    for index, width in enumerate(hidden_sizes, start=1):
        with name_scope(f"Hidden{index}"):
            features, size = fc(features, size, width, activation, weights_init="glorot", bias_init="zeros"), width
    return features, size


def pairwise_interactions(square_of_sum, sum_of_squares):
    """The FM's second-order term: 0.5 * sum over factors of (square_of_sum - sum_of_squares).

    For each factor f, (sum_i a_i)^2 = sum_i a_i^2 + 2 sum_{i<j} a_i a_j, so half
    the difference is the sum over pairs, in O(n) per factor instead of O(n^2).
    With a_i = v_if x_i this is sum_{i<j} <v_i, v_j> x_i x_j (a factorization
    machine); with a_i the field embeddings it is sum_{f<g} <e_f, e_g> (DeepFM).

    Both arguments are (k, 1) columns per sample; the result is (1, 1), named "pairwise".
    """
    minus_one, half = constant([[-1.0]], "minus_one"), constant([[0.5]], "half")
    difference = Add(square_of_sum, ScalarMultiply(minus_one, sum_of_squares))
    return ScalarMultiply(half, Sum(difference), name="pairwise")


def check_positive(builder, field, value):
    """``value`` must be a positive int; the error names the builder and the argument."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{builder}: {field} must be a positive int, got {value!r}")
    return int(value)


def check_sizes(builder, field, values):
    """``values`` must be a tuple or list of positive ints (possibly empty)."""
    if not isinstance(values, (tuple, list)):
        raise ValueError(f"{builder}: {field} must be a list of positive ints, got {values!r}")
    return [check_positive(builder, f"{field}[{index}]", value) for index, value in enumerate(values)]


def check_pair(builder, field, values):
    """``values`` must be two positive ints, such as (height, width); returns them as a tuple."""
    if not isinstance(values, (tuple, list)) or len(values) != 2:
        raise ValueError(f"{builder}: {field} must be two positive ints (height, width), got {values!r}")
    return tuple(check_sizes(builder, field, values))


def check_choice(builder, field, value, choices):
    if value not in choices:
        raise ValueError(f"{builder}: unknown {field} {value!r}; expected one of {list(choices)}")
    return value
