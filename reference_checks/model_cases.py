"""Gradient-check cases for every model builder, and for the embedding layer.

A case builds a small instance of one builder in a fresh float64 graph, gives
every trainable Variable a random value, and feeds ``BATCH`` samples through
``model.feed`` (mode ``batch``) or the first of them alone (mode ``sample``).
The check then differentiates the model's loss with respect to every trainable
Variable.

Leaky ReLU and PerceptionLoss have a kink at 0, where backprop and finite
differences legitimately disagree: ``kink_distance`` measures how far a built
case stays from them, and the test requires a safe margin. The perceptron's
labels are chosen after its weights, so that some samples are misclassified
and its loss has a gradient at all.
"""

from dataclasses import dataclass

import numpy as np

import matrixslow as ms
from matrixslow.ops.loss import PerceptionLoss

BATCH = 3
SAMPLE, BATCHED = "sample", "batch"
MODES = (SAMPLE, BATCHED)


# -- data ------------------------------------------------------------------------
def binary_labels(rng, n):
    return rng.integers(0, 2, size=(n, 1, 1)).astype(float)


def one_hot_labels(rng, n, classes):
    return np.eye(classes)[rng.integers(0, classes, n)][:, :, None]


def field_table(rng, n):
    """Columns of FIELDS: a one-hot field "day" (3 columns) and a multi-hot "tags" (4 columns, 1-3 set)."""
    day = np.eye(3)[rng.integers(0, 3, n)]
    tags = np.zeros((n, 4))
    for row in tags:
        row[rng.choice(4, size=rng.integers(1, 4), replace=False)] = 1.0
    return np.hstack([day, tags])


FIELDS = {"day": 3, "tags": 4}


# -- the cases ---------------------------------------------------------------------
@dataclass(frozen=True)
class ModelCase:
    """One small instance of ``builder``: ``build(rng) -> (model, x, labels)`` with ``BATCH`` samples.

    ``finish(model, rng)``, when given, runs after the weights and inputs are set
    (to choose labels from outputs, or to set an RNN's length).
    """

    builder: str
    label: str
    build: object
    finish: object = None

    @property
    def name(self):
        return f"{self.builder}({self.label})" if self.label else self.builder

    def make(self, mode, seed=0):
        """Build the case; returns ``(graph, model, trainable Variables)`` ready to check."""
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; expected one of {MODES}")
        rng = np.random.default_rng(seed)
        with ms.core.Graph(dtype=np.float64) as graph:
            model, x, labels = self.build(rng)
        trainables = ms.core.get_trainable_variables_from_graph(graph=graph)
        for variable in trainables:
            rows, cols = variable.dim
            # Glorot-sized values, biases included: a zero bias would hide a wrong bias gradient.
            variable.set_value(rng.standard_normal(variable.dim) * np.sqrt(2.0 / (rows + cols)))
        first = slice(None) if mode == BATCHED else 0
        for name, batch in model.feed(x).items():
            graph.get(name).set_value(batch[first])
        model.label.set_value(labels[first])
        if self.finish is not None:
            self.finish(model, rng)
        return graph, model, trainables

    def __str__(self):
        return self.name


CASES = []


def case(builder, label="", finish=None):
    """Decorator: register ``build`` as a case of the builder called ``builder``."""

    def register(build):
        CASES.append(ModelCase(builder, label, build, finish))
        return build

    return register


@case("logistic_regression")
def _logistic_regression(rng):
    return ms.model.logistic_regression(4), rng.standard_normal((BATCH, 4)), binary_labels(rng, BATCH)


@case("softmax_regression")
def _softmax_regression(rng):
    return ms.model.softmax_regression(4, 3), rng.standard_normal((BATCH, 4)), one_hot_labels(rng, BATCH, 3)


def _misclassify_some(model, rng):
    """Labels -sign(output) for all but the last sample: a loss of |output| with a gradient, none at 0."""
    output = model.logits.forward()
    signs = np.sign(output)
    labels = -signs
    if output.ndim == 3:
        labels[-1] = signs[-1]
    model.label.set_value(labels)


@case("perceptron", finish=_misclassify_some)
def _perceptron(rng):
    return ms.model.perceptron(4), rng.standard_normal((BATCH, 4)), np.ones((BATCH, 1, 1))


@case("linear_regression")
def _linear_regression(rng):
    return ms.model.linear_regression(4), rng.standard_normal((BATCH, 4)), rng.standard_normal((BATCH, 1, 1))


@case("factorization_machine")
def _factorization_machine(rng):
    return ms.model.factorization_machine(5, 3), rng.standard_normal((BATCH, 5)), binary_labels(rng, BATCH)


@case("factorization_machine", "fields out of order")
def _factorization_machine_fields(rng):
    model = ms.model.factorization_machine(5, 2, fields={"a": [3, 0], "b": [1, 4, 2]})
    return model, rng.standard_normal((BATCH, 5)), binary_labels(rng, BATCH)


@case("dnn", "ReLU")
def _dnn(rng):
    return ms.model.dnn(4, [5, 4], 3), rng.standard_normal((BATCH, 4)), one_hot_labels(rng, BATCH, 3)


@case("dnn", "Tanh")
def _dnn_tanh(rng):
    return ms.model.dnn(3, [4], 2, activation="Tanh"), rng.standard_normal((BATCH, 3)), one_hot_labels(rng, BATCH, 2)


@case("cnn", "pooled")
def _cnn(rng):
    model = ms.model.cnn((5, 5), 3, kernels=(2, 2), kernel_shape=(3, 3), pooling=((3, 3), (2, 2)), hidden=(4,))
    return model, rng.standard_normal((BATCH, 5, 5)), one_hot_labels(rng, BATCH, 3)


@case("cnn", "no pooling")
def _cnn_without_pooling(rng):
    model = ms.model.cnn((4, 3), 2, kernels=(2,), kernel_shape=(2, 3), pooling=None, hidden=())
    return model, rng.standard_normal((BATCH, 4, 3)), one_hot_labels(rng, BATCH, 2)


@case("rnn", "ReLU")
def _rnn(rng):
    return ms.model.rnn(4, 2, 3, 2), rng.standard_normal((BATCH, 4, 2)), one_hot_labels(rng, BATCH, 2)


@case("rnn", "Tanh")
def _rnn_tanh(rng):
    model = ms.model.rnn(3, 2, 3, 3, activation="Tanh")
    return model, rng.standard_normal((BATCH, 3, 2)), one_hot_labels(rng, BATCH, 3)


@case("rnn", "welded to step 2 of 4", finish=lambda model, rng: model.set_length(2))
def _rnn_welded(rng):
    return ms.model.rnn(4, 2, 3, 2, welding=True), rng.standard_normal((BATCH, 4, 2)), one_hot_labels(rng, BATCH, 2)


@case("wide_and_deep")
def _wide_and_deep(rng):
    return ms.model.wide_and_deep(FIELDS, 2, [4]), field_table(rng, BATCH), binary_labels(rng, BATCH)


@case("deepfm")
def _deepfm(rng):
    return ms.model.deepfm(FIELDS, 2, [4]), field_table(rng, BATCH), binary_labels(rng, BATCH)


@case("deepfm", "no hidden layer")
def _deepfm_shallow(rng):
    return ms.model.deepfm({"one": 2, "two": 3, "three": 2}, 3, []), rng.random((BATCH, 7)), binary_labels(rng, BATCH)


# -- the embedding layer -------------------------------------------------------------
def make_embedding_case(mode, seed=0):
    """``ms.layer.embedding`` of a multi-hot (4, 1) input into 3 dimensions: ``(target, [E, x])``."""
    rng = np.random.default_rng(seed)
    with ms.core.Graph(dtype=np.float64):
        x = ms.Variable((4, 1), init=False, trainable=False, name="x")
        target = ms.layer.embedding(x, 4, 3)
    (weights,) = target.parents[:1]
    weights.set_value(rng.standard_normal((3, 4)))
    x.set_value(rng.random((BATCH, 4, 1)) if mode == BATCHED else rng.random((4, 1)))
    return target, [weights, x]


# -- how far a built case stays from the kinks -----------------------------------------
def kink_distance(graph):
    """The smallest |input| of any ReLU or PerceptionLoss node in ``graph`` (inf without such nodes)."""
    nearest = np.inf
    for node in graph.nodes:
        if isinstance(node, (ms.ops.ReLU, PerceptionLoss)):
            nearest = min(nearest, float(np.min(np.abs(node.parents[0].forward()))))
    return nearest
