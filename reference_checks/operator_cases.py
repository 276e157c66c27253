"""Gradient-check cases for every operator and loss, each built in up to three modes.

A case is a small function that builds one operator on fresh Variables and
returns ``(target, inputs)``. It asks an ``InputMaker`` for its Variables, and
the mode decides their shapes:

- ``sample``: every value is one matrix (2-D);
- ``batch``: data is a batch of ``BATCH`` matrices (3-D), parameters (weights,
  kernels, biases, shared labels) stay one matrix shared by the whole batch;
- ``all_batched``: every value is a batch. Only listed for operators of two or
  more parents; for one parent it would repeat ``batch``.

Values are kept away from kinks (0 for ReLU, Step and PerceptionLoss, ties for
MaxPooling), where finite differences and backprop legitimately disagree.

``CASES`` maps each operator class to its cases; ``ALL_CASES`` lists them all.
"""

from dataclasses import dataclass

import numpy as np

import matrixslow as ms
from matrixslow import ops
from matrixslow.ops import loss

BATCH = 4
SAMPLE, BATCHED, ALL_BATCHED = "sample", "batch", "all_batched"
ONE_PARENT_MODES = (SAMPLE, BATCHED)
ALL_MODES = (SAMPLE, BATCHED, ALL_BATCHED)


# -- how values are drawn ----------------------------------------------------
def normal(rng, shape):
    return rng.standard_normal(shape)


def wide(rng, shape):
    """Normal with standard deviation 3: reaches the saturated tails of sigmoids and softmax."""
    return 3.0 * rng.standard_normal(shape)


def uniform(rng, shape):
    return rng.uniform(0.0, 1.0, size=shape)


def away_from_zero(rng, shape):
    """Random signs, magnitudes in [0.2, 2]: no element within 0.2 of a kink at 0."""
    return rng.choice([-1.0, 1.0], size=shape) * rng.uniform(0.2, 2.0, size=shape)


def distinct(rng, shape):
    """All values differ by at least 0.1, so no pooling window has a tie."""
    return (rng.permutation(int(np.prod(shape))).reshape(shape) - np.prod(shape) / 2) * 0.1


def one_hot(rng, shape):
    """One 1 per sample's matrix, zeros elsewhere (class labels)."""
    rows, cols = shape[-2:]
    flat = np.zeros((int(np.prod(shape[:-2])), rows * cols))
    flat[np.arange(len(flat)), rng.integers(0, rows * cols, len(flat))] = 1.0
    return flat.reshape(shape)


def zero_or_one(rng, shape):
    return rng.integers(0, 2, size=shape).astype(float)


class InputMaker:
    """Creates a case's Variables with the shapes its mode asks for.

    Batched values must be non-trainable (the engine keeps trainable values one
    matrix); the checker differentiates with respect to them all the same.
    """

    def __init__(self, mode, rng):
        if mode not in ALL_MODES:
            raise ValueError(f"unknown mode {mode!r}; expected one of {ALL_MODES}")
        self.mode, self.rng = mode, rng

    def data(self, name, dim, fill=normal):
        """An input: a batch unless the mode is per sample."""
        return self._variable(name, dim, fill, batched=self.mode != SAMPLE)

    def param(self, name, dim, fill=normal):
        """A parameter: one shared matrix unless every value is batched."""
        return self._variable(name, dim, fill, batched=self.mode == ALL_BATCHED)

    def _variable(self, name, dim, fill, batched):
        variable = ms.Variable(dim=dim, init=False, trainable=not batched, name=name)
        variable.set_value(fill(self.rng, (BATCH, *dim) if batched else dim))
        return variable


@dataclass(frozen=True)
class OperatorCase:
    """One way of exercising ``operator``: ``build(make) -> (target, inputs)``."""

    operator: type
    name: str
    build: object
    modes: tuple

    def make(self, mode, seed=0, dtype=np.float64):
        """Build the case in a fresh graph; returns ``(graph, target, inputs)``."""
        if mode not in self.modes:
            raise ValueError(f"case {self.name} has no mode {mode!r}; it has {self.modes}")
        with ms.core.Graph(dtype=dtype) as graph:
            target, inputs = self.build(InputMaker(mode, np.random.default_rng(seed)))
        return graph, target, inputs

    def __str__(self):
        return self.name


CASES = {}


def case(operator, label="", modes=ALL_MODES):
    """Decorator: register a build function as a case of ``operator``."""

    def register(build):
        name = f"{operator.__name__}({label})" if label else operator.__name__
        CASES.setdefault(operator, []).append(OperatorCase(operator, name, build, tuple(modes)))
        return build

    return register


# -- arithmetic ----------------------------------------------------------------
@case(ops.Add, "x+b")
def _add_two(make):
    x, b = make.data("x", (3, 2)), make.param("b", (3, 2))
    return ops.Add(x, b), [x, b]


@case(ops.Add, "x+b+y")
def _add_three(make):
    x, b, y = make.data("x", (2, 3)), make.param("b", (2, 3)), make.data("y", (2, 3))
    return ops.Add(x, b, y), [x, b, y]


@case(ops.MatMul, "W@x")
def _matmul_weight_left(make):
    w, x = make.param("W", (3, 4)), make.data("x", (4, 2))
    return ops.MatMul(w, x), [w, x]


@case(ops.MatMul, "x@W")
def _matmul_weight_right(make):
    x, w = make.data("x", (2, 4)), make.param("W", (4, 3))
    return ops.MatMul(x, w), [x, w]


@case(ops.Multiply)
def _multiply(make):
    x, w = make.data("x", (3, 2)), make.param("w", (3, 2))
    return ops.Multiply(x, w), [x, w]


@case(ops.ScalarMultiply, "shared scalar")
def _scalar_multiply(make):
    s, x = make.param("s", (1, 1)), make.data("x", (2, 3))
    return ops.ScalarMultiply(s, x), [s, x]


@case(ops.ScalarMultiply, "shared matrix")
def _scalar_multiply_shared_matrix(make):
    s, m = make.data("s", (1, 1)), make.param("M", (3, 2))
    return ops.ScalarMultiply(s, m), [s, m]


# -- activations ---------------------------------------------------------------
@case(ops.Logistic, modes=ONE_PARENT_MODES)
def _logistic(make):
    x = make.data("x", (3, 2), fill=wide)
    return ops.Logistic(x), [x]


@case(ops.ReLU, "default slope", modes=ONE_PARENT_MODES)
def _relu(make):
    x = make.data("x", (4, 3), fill=away_from_zero)
    return ops.ReLU(x), [x]


@case(ops.ReLU, "nslope=0.3", modes=ONE_PARENT_MODES)
def _relu_custom_slope(make):
    x = make.data("x", (3, 3), fill=away_from_zero)
    return ops.ReLU(x, nslope=0.3), [x]


@case(ops.Tanh, modes=ONE_PARENT_MODES)
def _tanh(make):
    x = make.data("x", (3, 2))
    return ops.Tanh(x), [x]


@case(ops.Step, modes=ONE_PARENT_MODES)
def _step(make):
    x = make.data("x", (3, 2), fill=away_from_zero)
    return ops.Step(x), [x]


@case(ops.SoftMax, "column", modes=ONE_PARENT_MODES)
def _softmax_column(make):
    x = make.data("x", (5, 1), fill=wide)
    return ops.SoftMax(x), [x]


@case(ops.SoftMax, "matrix", modes=ONE_PARENT_MODES)
def _softmax_matrix(make):
    x = make.data("x", (2, 3))
    return ops.SoftMax(x), [x]


# -- shapes ----------------------------------------------------------------------
@case(ops.Reshape, "3x4 to 6x2", modes=ONE_PARENT_MODES)
def _reshape(make):
    x = make.data("x", (3, 4))
    return ops.Reshape(x, shape=(6, 2)), [x]


@case(ops.Reshape, "2x3 to column", modes=ONE_PARENT_MODES)
def _reshape_to_column(make):
    x = make.data("x", (2, 3))
    return ops.Reshape(x, shape=(6, 1)), [x]


@case(ops.Transpose, modes=ONE_PARENT_MODES)
def _transpose(make):
    x = make.data("x", (2, 3))
    return ops.Transpose(x), [x]


@case(ops.Sum, modes=ONE_PARENT_MODES)
def _sum(make):
    x = make.data("x", (3, 2))
    return ops.Sum(x), [x]


@case(ops.Concat)
def _concat(make):
    x, w, y = make.data("x", (2, 3)), make.param("w", (3, 1)), make.data("y", (1, 2))
    return ops.Concat(x, w, y), [x, w, y]


@case(ops.Welding, modes=ONE_PARENT_MODES)
def _welding(make):
    x = make.data("x", (3, 2))
    welding = ops.Welding()
    welding.weld(x)
    return welding, [x]


@case(ops.Welding, "rewelded")
def _welding_rewelded(make):
    # A second weld cuts the first parent off: its gradient must be zero, and the new one's the identity.
    old, new = make.param("old", (2, 2)), make.data("new", (2, 2))
    welding = ops.Welding(old)
    welding.weld(new)
    return welding, [old, new]


# -- convolution and pooling -------------------------------------------------------
@case(ops.Convolve, "3x3 kernel on 5x6")
def _convolve_odd(make):
    x, kernel = make.data("x", (5, 6)), make.param("kernel", (3, 3))
    return ops.Convolve(x, kernel), [x, kernel]


@case(ops.Convolve, "2x2 kernel on 4x5")
def _convolve_even(make):
    x, kernel = make.data("x", (4, 5)), make.param("kernel", (2, 2))
    return ops.Convolve(x, kernel), [x, kernel]


@case(ops.Convolve, "2x3 kernel on 3x4")
def _convolve_mixed(make):
    x, kernel = make.data("x", (3, 4)), make.param("kernel", (2, 3))
    return ops.Convolve(x, kernel), [x, kernel]


def _pooling_case(size, stride, dim):
    label = f"size {size[0]}x{size[1]} stride {stride[0]}x{stride[1]} on {dim[0]}x{dim[1]}"

    @case(ops.MaxPooling, label, modes=ONE_PARENT_MODES)
    def _max_pooling(make):
        x = make.data("x", dim, fill=distinct)
        return ops.MaxPooling(x, size=size, stride=stride), [x]


_pooling_case((2, 2), (2, 2), (4, 6))  # windows tile the input
_pooling_case((3, 3), (2, 2), (5, 7))  # overlapping windows, stride does not divide the size
_pooling_case((3, 2), (2, 3), (6, 7))  # different height and width settings
_pooling_case((3, 3), (1, 1), (4, 5))  # every pixel a window centre: heavy overlap
_pooling_case((2, 2), (3, 3), (5, 5))  # stride larger than the window: some pixels unused


# -- losses --------------------------------------------------------------------------
@case(loss.LogLoss, "book form", modes=ONE_PARENT_MODES)
def _log_loss_book(make):
    x = make.data("x", (3, 1), fill=wide)
    return loss.LogLoss(x), [x]


@case(loss.LogLoss, "0/1 labels")
def _log_loss_labels(make):
    logits, labels = make.data("logits", (3, 1)), make.param("labels", (3, 1), fill=zero_or_one)
    return loss.LogLoss(logits, labels), [logits, labels]


@case(loss.CrossEntropyWithSoftMax, "one-hot labels")
def _cross_entropy(make):
    logits, labels = make.data("logits", (5, 1)), make.param("labels", (5, 1), fill=one_hot)
    return loss.CrossEntropyWithSoftMax(logits, labels), [logits, labels]


@case(loss.CrossEntropyWithSoftMax, "unnormalised soft labels")
def _cross_entropy_soft_labels(make):
    # Labels that do not sum to 1 check the sum(labels) factor that one-hot labels hide.
    logits, labels = make.data("logits", (2, 3)), make.param("labels", (2, 3), fill=uniform)
    return loss.CrossEntropyWithSoftMax(logits, labels), [logits, labels]


@case(loss.PerceptionLoss, modes=ONE_PARENT_MODES)
def _perception_loss(make):
    x = make.data("x", (4, 1), fill=away_from_zero)
    return loss.PerceptionLoss(x), [x]


@case(loss.MeanSquaredError)
def _mean_squared_error(make):
    predictions, targets = make.data("predictions", (3, 2)), make.param("targets", (3, 2))
    return loss.MeanSquaredError(predictions, targets), [predictions, targets]


ALL_CASES = [operator_case for cases in CASES.values() for operator_case in cases]
