"""The five benchmarked models, each built in matrixslow and as its NumPy twin from the same weights.

Sizes are those of the digits examples (8x8 images, 10 classes): logistic regression (even vs odd
digit) and softmax regression on the 64 pixels, the MLP 64-64-32-10, the CNN of
examples/cnn_digits.py (16 3x3 kernels, 3x3/2 pooling, 32 hidden) and an Elman RNN reading the
image row by row (8 steps of 8 pixels, 32 hidden). Data are synthetic: timing does not depend on
the pixel values, and nothing has to be loaded.
"""

from dataclasses import dataclass

import numpy as np

import matrixslow as ms

from .numpy_mlp import NumpyMLP
from .numpy_models import NumpyCNN, NumpyLogisticRegression, NumpyRNN

CLASSES = 10
IMAGE = (8, 8)
PIXELS = IMAGE[0] * IMAGE[1]
LEARNING_RATE = 0.001
CNN_KERNELS = 16


@dataclass(frozen=True)
class ModelSpec:
    build: object  # () -> ms.model.Model, in the current default graph
    twin: object  # trainable values -> NumPy twin with step(x, labels), in the values' dtype
    layout: str  # how the twin takes x: "rows" (B, 64), "images" (B, 8, 8) or "sequences" (B, 8 steps, 8)
    binary: bool = False  # labels 0/1 and a (1, 1) label instead of one-hot classes


SPECS = {
    "logistic_regression": ModelSpec(
        lambda: ms.model.logistic_regression(PIXELS), NumpyLogisticRegression, "rows", binary=True
    ),
    "softmax_regression": ModelSpec(
        lambda: ms.model.softmax_regression(PIXELS, CLASSES),
        lambda values: NumpyMLP((PIXELS, CLASSES), np.random.default_rng(0), values[0].dtype).load_matrixslow(values),
        "rows",
    ),
    "mlp": ModelSpec(
        lambda: ms.model.dnn(PIXELS, [64, 32], CLASSES),
        lambda values: NumpyMLP((PIXELS, 64, 32, CLASSES), np.random.default_rng(0), values[0].dtype).load_matrixslow(
            values
        ),
        "rows",
    ),
    "cnn": ModelSpec(
        lambda: ms.model.cnn(IMAGE, CLASSES, kernels=(CNN_KERNELS,), kernel_shape=(3, 3), hidden=(32,)),
        lambda values: NumpyCNN(values, CNN_KERNELS),
        "images",
    ),
    "rnn": ModelSpec(lambda: ms.model.rnn(IMAGE[0], IMAGE[1], 32, CLASSES), NumpyRNN, "sequences"),
}
MODEL_NAMES = tuple(SPECS)


def synthetic_batch(batch, rng):
    """``batch`` images in [0, 1) of shape (batch, 8, 8) and digit labels 0-9."""
    return rng.random((batch, *IMAGE)), rng.integers(0, CLASSES, batch)


def build_matrixslow(name, seed=0, optimizer=ms.optimizer.Adam, learning_rate=LEARNING_RATE, dtype=np.float64):
    """A fresh ``dtype`` graph with model ``name`` and its optimizer; weights from ``np.random.seed(seed)``."""
    np.random.seed(seed)
    with ms.core.Graph(dtype=dtype) as graph:
        model = SPECS[name].build()
        trainer = optimizer(graph, model.loss, learning_rate)
    return graph, model, trainer


def trainable_values(graph):
    """Copies of the trainable values, in the graph's order (the order the twins take)."""
    return [variable.value.copy() for variable in ms.core.get_trainable_variables_from_graph(graph=graph)]


def feed_matrixslow(name, model, images, labels):
    """Set model ``name``'s inputs and label to a batch of images and digit labels."""
    x = images.reshape(len(images), -1) if SPECS[name].layout == "rows" else images
    batches = model.feed(x)
    for node in model.inputs:
        node.set_value(batches[node.name])
    if SPECS[name].binary:
        model.label.set_value((labels % 2).astype(float)[:, None, None])
    else:
        model.label.set_value(np.eye(CLASSES)[labels][:, :, None])


def twin_inputs(name, images, labels, dtype=np.float64):
    """The same batch as the twin of ``name`` takes it, in ``dtype`` (the graph casts its inputs the same way)."""
    x = images.reshape(len(images), -1) if SPECS[name].layout == "rows" else images
    y = (labels % 2).astype(dtype) if SPECS[name].binary else np.eye(CLASSES, dtype=dtype)[labels]
    return x.astype(dtype, copy=False), y


def step_pair(name, batch, seed=0, dtype=np.float64):
    """Two () -> None: one training step of model ``name`` on the same batch, matrixslow and NumPy twin."""
    graph, model, optimizer = build_matrixslow(name, seed, dtype=dtype)
    twin = SPECS[name].twin(trainable_values(graph))
    images, labels = synthetic_batch(batch, np.random.default_rng(seed))
    feed_matrixslow(name, model, images, labels)
    x, y = twin_inputs(name, images, labels, dtype)

    def matrixslow_step():
        optimizer.one_step()
        optimizer.update()

    return matrixslow_step, lambda: twin.step(x, y)
