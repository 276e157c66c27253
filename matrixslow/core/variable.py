"""Variables: the graph's inputs and trainable parameters."""

import numpy as np

from .errors import GraphError, ShapeError
from .node import Node


class Variable(Node):
    """A node whose value is set from outside: an input, a label or a parameter.

    Parameters
    ----------
    dim : tuple of two ints
        The shape of one sample's value, for example ``(784, 1)``.
    init : bool, default False
        Fill the value with random normal numbers scaled to the shape (Glorot:
        standard deviation sqrt(2 / (rows + cols))), so that deep ReLU networks
        start neither saturated nor vanishing. The book's N(0, 0.001) is too
        small for three layers. Uses NumPy's global generator, so
        ``np.random.seed`` makes it repeatable.
    trainable : bool, default True
        Whether optimizers update it. Trainable values are always one matrix.

    Inputs accept one sample of shape ``dim`` or a batch of shape ``(B, *dim)``.
    """

    def __init__(self, dim, init=False, trainable=True, **kargs):
        self.dim = _check_dim(dim, kargs.get("name"))
        super().__init__(**kargs)
        self.trainable = trainable
        if init:
            std = np.sqrt(2.0 / (self.dim[0] + self.dim[1]))
            self.value = np.random.normal(0.0, std, self.dim).astype(self.graph.dtype)

    def set_value(self, value):
        """Give the variable a new value and forget every value computed from the old one."""
        value = self._checked(value)
        self.reset_value()
        self.value = value

    def _checked(self, value):
        try:
            # A copy, so that changing the caller's array later cannot change the graph
            # behind its back; np.asarray would also turn np.matrix into an ndarray.
            value = np.array(value, dtype=self.graph.dtype, copy=True, subok=False)
        except (TypeError, ValueError) as error:
            raise ShapeError(f"{self.describe()}: set_value got a value that is not numeric ({error})") from None
        if value.shape == self.dim:
            return value
        if value.ndim == 3 and value.shape[1:] == self.dim and not self.trainable:
            return value
        batch_note = "" if self.trainable else f" or a batch (B, {self.dim[0]}, {self.dim[1]})"
        raise ShapeError(f"{self.describe()}: set_value got shape {value.shape}, expected dim {self.dim}{batch_note}")

    def compute(self):
        raise GraphError(f"{self.describe()} has no value: call set_value() before forward()")


def _check_dim(dim, name):
    if (
        not isinstance(dim, (tuple, list))
        or len(dim) != 2
        or not all(isinstance(d, (int, np.integer)) and d > 0 for d in dim)
    ):
        raise ShapeError(f"Variable '{name or '(unnamed)'}': dim must be two positive ints (rows, cols), got {dim!r}")
    return (int(dim[0]), int(dim[1]))
