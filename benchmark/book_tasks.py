"""The book's four training tasks in matrixslow, as the PyTorch comparison (``test_vs_torch``) runs them.

- ``logreg``: logistic regression on the breast cancer data (30 features), batch 16 (chapter 3);
- ``mlp``: the fully connected network 64-64-10 on the 8x8 digits, batch 32 (chapter 5);
- ``cnn``: the book's ``cnn_mnist.py`` on the digits, batch 32 (chapter 8): two ``layer.conv`` layers of
  3 kernels (5x5, then 3x3 over each of the 3 maps: one ``Convolve`` node per kernel and input map),
  each followed by ``layer.pooling`` (3x3 window, stride 2), 8x8 -> 4x4 -> 2x2, then fc 12-120-10,
  as tests/book/test_ch08_cnn.py shrinks it from MNIST;
- ``rnn``: the book's ``rnn_sin_square.py``, batch 16 (chapter 7): sine or square wave, 96 steps of 16
  values, one input node per step, 12 hidden units, then fc 40 and fc 10 (ReLU) and 2 outputs.

Every task trains with Adam (lr 0.001, beta_2 0.99) in float64 on its training split, cut into
consecutive batches after one fixed shuffle: ``BookRun`` walks through them in that order. The
weights start from ``np.random.seed(seed)``; ``torch_layout`` gives them in PyTorch's layout
(nn.Linear's weight (out, in) and bias (out,), nn.Conv2d's (out, in, kh, kw)), by the names of the
twins in ``torch_twins``. Nothing here imports torch.
"""

from dataclasses import dataclass
from functools import cache

import numpy as np

import matrixslow as ms
from matrixslow import datasets

LEARNING_RATE = 0.001
RNN_STEPS, RNN_VALUES, RNN_HIDDEN = 96, 16, 12  # the book's seq_len, dimension and status_dimension
CNN_KERNELS = 3
DIGITS = (8, 8)


@dataclass(frozen=True)
class Data:
    """A task's training split: x as the twin reads it, y as class numbers (0/1 for the binary task)."""

    x: np.ndarray  # (N, 30), (N, 64), (N, 8, 8) or (N, 96 steps, 16)
    y: np.ndarray  # (N,) int64


@cache
def _breast_cancer():
    data = datasets.load_breast_cancer(seed=0)
    return Data(data.train_x, data.train_y.astype(np.int64))


@cache
def _digits():
    data = datasets.load_digits(seed=0)
    return Data(data.train_x, data.train_y.astype(np.int64))


@cache
def _digit_rows():
    images = _digits()
    return Data(images.x.reshape(len(images.x), -1), images.y)


@cache
def _waves():
    # The book draws 1000 sequences and trains on 70 %; load_sine_square keeps 75 % for training.
    data = datasets.load_sine_square(n=1000, length=RNN_STEPS, features=RNN_VALUES, seed=0)
    return Data(data.train_x, data.train_y.astype(np.int64))


def _logreg():
    model = ms.model.logistic_regression(30)
    return model.inputs, model.label, model.loss


def _mlp():
    model = ms.model.dnn(64, [64], 10)
    return model.inputs, model.label, model.loss


def _cnn():
    # tests/book/test_ch08_cnn.py cnn_mnist, with the model zoo's initialisation (Glorot kernels, zero biases)
    x = ms.core.Variable(DIGITS, init=False, trainable=False)
    one_hot = ms.core.Variable((10, 1), init=False, trainable=False)
    init = {"kernel_init": "glorot", "bias_init": "zeros"}
    conv1 = ms.layer.conv([x], DIGITS, CNN_KERNELS, (5, 5), "ReLU", **init)
    pooling1 = ms.layer.pooling(conv1, (3, 3), (2, 2))
    conv2 = ms.layer.conv(pooling1, (4, 4), CNN_KERNELS, (3, 3), "ReLU", **init)
    pooling2 = ms.layer.pooling(conv2, (3, 3), (2, 2))
    fc1 = ms.layer.fc(ms.ops.Concat(*pooling2), 4 * CNN_KERNELS, 120, "ReLU", "glorot", "zeros")
    output = ms.layer.fc(fc1, 120, 10, None, "glorot", "zeros")
    return [x], one_hot, ms.ops.loss.CrossEntropyWithSoftMax(output, one_hot)


def _rnn():
    # tests/book/test_ch07_rnn.py unrolled_rnn and rnn_sin_square, with Glorot weights and zero biases
    inputs = [ms.core.Variable((RNN_VALUES, 1), init=False, trainable=False) for _ in range(RNN_STEPS)]
    u = ms.core.Variable((RNN_HIDDEN, RNN_VALUES), init="glorot", trainable=True)
    w = ms.core.Variable((RNN_HIDDEN, RNN_HIDDEN), init="glorot", trainable=True)
    b = ms.core.Variable((RNN_HIDDEN, 1), init="zeros", trainable=True)
    hidden = None
    for x in inputs:
        h = ms.ops.Add(ms.ops.MatMul(u, x), b)
        if hidden is not None:  # h_0 is zero: no W h term on the first step, as in the book
            h = ms.ops.Add(ms.ops.MatMul(w, hidden), h)
        hidden = ms.ops.ReLU(h)
    fc1 = ms.layer.fc(hidden, RNN_HIDDEN, 40, "ReLU", "glorot", "zeros")
    fc2 = ms.layer.fc(fc1, 40, 10, "ReLU", "glorot", "zeros")
    output = ms.layer.fc(fc2, 10, 2, None, "glorot", "zeros")
    label = ms.core.Variable((2, 1), init=False, trainable=False)
    return inputs, label, ms.ops.loss.CrossEntropyWithSoftMax(output, label)


def _layers(values, names):
    """(W, b) pairs of values, in graph order, as the nn.Linear layers ``names``."""
    layout = {}
    for name, weight, bias in zip(names, values[0::2], values[1::2], strict=True):
        layout.update({f"{name}.weight": weight, f"{name}.bias": bias[:, 0]})
    return layout


def _conv(values, inputs):
    """One ``layer.conv`` layer's values (per kernel: one matrix per input map, then the bias) as nn.Conv2d's."""
    per_kernel = inputs + 1
    kernels = [values[k * per_kernel : (k + 1) * per_kernel] for k in range(len(values) // per_kernel)]
    weight = np.stack([np.stack(kernel[:-1]) for kernel in kernels])
    return weight, np.array([kernel[-1][0, 0] for kernel in kernels])


def _cnn_layout(values):
    conv1, conv2 = CNN_KERNELS * 2, CNN_KERNELS * (CNN_KERNELS + 1)
    layout = {}
    for name, (weight, bias) in (
        ("conv1", _conv(values[:conv1], 1)),
        ("conv2", _conv(values[conv1 : conv1 + conv2], CNN_KERNELS)),
    ):
        layout.update({f"{name}.weight": weight, f"{name}.bias": bias})
    return layout | _layers(values[conv1 + conv2 :], ("fc1", "output"))


def _rnn_layout(values):
    u, w, b = values[:3]
    return {"u": u, "w": w, "b": b[:, 0]} | _layers(values[3:], ("fc1", "fc2", "output"))


@dataclass(frozen=True)
class BookTask:
    title: str  # for the report: what the book trains, on what
    batch: int
    data: object  # () -> Data
    build: object  # () -> (input Variables, label Variable, loss node), in the default graph
    layout: object  # trainable values in graph order -> {PyTorch parameter name: array}
    classes: int
    binary: bool = False  # a (1, 1) label in {0, 1} instead of a one-hot column


TASKS = {
    "logreg": BookTask(
        title="logistic regression, breast cancer", batch=16, data=_breast_cancer, build=_logreg,
        layout=lambda values: _layers(values, ("linear",)), classes=2, binary=True,
    ),
    "mlp": BookTask(
        title="MLP 64-64-10, digits", batch=32, data=_digit_rows, build=_mlp,
        layout=lambda values: _layers(values, ("hidden", "output")), classes=10,
    ),
    "cnn": BookTask(
        title="CNN 2 x 3 kernels, digits", batch=32, data=_digits, build=_cnn, layout=_cnn_layout, classes=10
    ),
    "rnn": BookTask(
        title=f"RNN {RNN_STEPS} steps, sine or square", batch=16, data=_waves, build=_rnn, layout=_rnn_layout,
        classes=2,
    ),
}  # fmt: skip
TASK_NAMES = tuple(TASKS)


def batch_order(task_name, seed=0):
    """The row indices of each batch of an epoch: one fixed shuffle, cut in full batches (the rest left out)."""
    task = TASKS[task_name]
    count = len(task.data().y)
    rows = np.random.default_rng(seed).permutation(count)
    return rows[: count - count % task.batch].reshape(-1, task.batch)


class BookRun:
    """Task ``task_name`` in a fresh float64 graph with Adam; ``step()`` trains on the next batch.

    ``values()`` are the trainable values in graph order, ``torch_weights()`` the same in PyTorch's layout.
    """

    def __init__(self, task_name, seed=0, learning_rate=LEARNING_RATE):
        self.task = TASKS[task_name]
        np.random.seed(seed)  # the layers draw their weights from NumPy's global generator
        with ms.core.Graph(dtype=np.float64) as self.graph:
            self.inputs, self.label, self.loss = self.task.build()
            self.optimizer = ms.optimizer.Adam(self.graph, self.loss, learning_rate)
        data = self.task.data()
        self.x, self.y = data.x, data.y
        self.batches = batch_order(task_name, seed)
        self.position = 0

    def step(self):
        """Forward, backward and an Adam update on the next batch (after the last, the first); the mean loss."""
        rows = self.batches[self.position]
        self.position = (self.position + 1) % len(self.batches)
        x = self.x[rows]
        if len(self.inputs) == 1:
            # a feature row becomes a column per sample; an image stays a matrix
            self.inputs[0].set_value(x[:, :, None] if x.ndim == 2 else x)
        else:  # one input node per time step, each a (values, 1) column per sample
            for step, node in enumerate(self.inputs):
                node.set_value(x[:, step, :, None])
        labels = self.y[rows]
        one_hot = labels[:, None] if self.task.binary else np.eye(self.task.classes)[labels]
        self.label.set_value(one_hot[:, :, None])
        self.optimizer.one_step()
        loss = float(self.loss.value.mean())
        self.optimizer.update()
        return loss

    def values(self):
        return [variable.value.copy() for variable in ms.core.get_trainable_variables_from_graph(graph=self.graph)]

    def torch_weights(self):
        return self.task.layout(self.values())
