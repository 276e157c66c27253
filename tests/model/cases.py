"""A small instance of every builder, with a tiny learnable data set for it.

``SMALL`` maps each builder's name to an ``Instance``: how to build it, how to
draw n samples (x in the layout ``model.feed`` takes, labels in the layout of
``model.label``), and the per-sample shape of its logits.
"""

from dataclasses import dataclass

import numpy as np

import matrixslow as ms

FIELDS = {"day": 3, "tags": 4}


@dataclass(frozen=True)
class Instance:
    build: object  # () -> Model, in the current default graph
    data: object  # (rng, n) -> (x, labels)
    logits_dim: tuple


def binary(rng, n):
    x = rng.standard_normal((n, 3))
    return x, (x[:, 0] + x[:, 1] > 0).astype(float)[:, None, None]


def signed(rng, n):
    x, labels = binary(rng, n)
    return x, 2.0 * labels - 1.0


def regression(rng, n):
    x = rng.standard_normal((n, 3))
    return x, (x @ np.array([1.0, -2.0, 0.5]) + 0.3)[:, None, None]


def one_hot(labels, classes):
    return np.eye(classes)[labels][:, :, None]


def three_classes(rng, n):
    x = rng.standard_normal((n, 3))
    return x, one_hot(x.argmax(axis=1), 3)


def images(rng, n):
    """6x6 images; the class is whether the left or the right half is brighter."""
    x = rng.standard_normal((n, 6, 6))
    return x, one_hot((x[:, :, 3:].sum(axis=(1, 2)) > x[:, :, :3].sum(axis=(1, 2))).astype(int), 2)


def sequences(rng, n):
    """4 steps of 2 features; the class is the sign of the sum of the first feature."""
    x = rng.standard_normal((n, 4, 2))
    return x, one_hot((x[:, :, 0].sum(axis=1) > 0).astype(int), 2)


def field_table(rng, n):
    """A one-hot "day" (3 columns) and a multi-hot "tags" (4 columns); positive on day 0 or tag 1."""
    day = np.eye(3)[rng.integers(0, 3, n)]
    tags = (rng.random((n, 4)) < 0.4).astype(float)
    labels = ((day[:, 0] + tags[:, 1]) > 0).astype(float)
    return np.hstack([day, tags]), labels[:, None, None]


def real_table(rng, n):
    x = rng.standard_normal((n, 5))
    return x, (x[:, 0] * x[:, 1] > 0).astype(float)[:, None, None]


SMALL = {
    "logistic_regression": Instance(lambda: ms.model.logistic_regression(3), binary, (1, 1)),
    "softmax_regression": Instance(lambda: ms.model.softmax_regression(3, 3), three_classes, (3, 1)),
    "perceptron": Instance(lambda: ms.model.perceptron(3), signed, (1, 1)),
    "linear_regression": Instance(lambda: ms.model.linear_regression(3), regression, (1, 1)),
    "factorization_machine": Instance(lambda: ms.model.factorization_machine(5, 3), real_table, (1, 1)),
    "dnn": Instance(lambda: ms.model.dnn(3, [6, 5], 3), three_classes, (3, 1)),
    "cnn": Instance(lambda: ms.model.cnn((6, 6), 2, kernels=(2, 3), hidden=(5,)), images, (2, 1)),
    "rnn": Instance(lambda: ms.model.rnn(4, 2, 5, 2), sequences, (2, 1)),
    "wide_and_deep": Instance(lambda: ms.model.wide_and_deep(FIELDS, 2, [4]), field_table, (1, 1)),
    "deepfm": Instance(lambda: ms.model.deepfm(FIELDS, 2, [4]), field_table, (1, 1)),
}


def set_data(graph, model, x, labels):
    """Feed x through ``model.feed`` and the labels into ``model.label``."""
    for name, batch in model.feed(x).items():
        graph.get(name).set_value(batch)
    model.label.set_value(labels)


def trainable(graph, prefix):
    """The trainable Variables whose names start with ``prefix``, in creation order."""
    return [node for node in ms.core.get_trainable_variables_from_graph(graph=graph) if node.name.startswith(prefix)]


def leaky_relu(z):
    return np.where(z > 0, z, 0.1 * z)


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def log_loss(logit, label):
    return np.log1p(np.exp(logit)) - label * logit
