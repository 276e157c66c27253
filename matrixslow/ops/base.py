"""The operator base class and the shape rules every operator shares.

An operator defines two things, side by side:
- ``compute()``: its value from its parents' values (one sample is a 2-D
  matrix, a batch is a 3-D stack of them; NumPy broadcasting does the batch);
- ``vjp(parent_index, grad)``: given d(result)/d(value), the gradient with
  respect to one parent's value, the vector-Jacobian product. Where a parent is
  one matrix shared by the whole batch, the operator may return one gradient per
  sample: the engine sums them (see ``core.autodiff``).
"""

import numpy as np

from ..core.batching import ones_vector
from ..core.errors import ShapeError
from ..core.node import Node


class Operator(Node):
    """Base class of every operator node."""

    def vjp(self, parent_index, grad):
        raise NotImplementedError(f"{type(self).__name__} does not define vjp()")

    # An operator whose compute() is checks and then arithmetic may put the arithmetic alone in
    # ``replay()``: the compiled plan calls it instead of compute(). Every check is on shapes (and on
    # the number of parents, which is structure), and a plan only replays a family of input shapes
    # whose every check has passed on its first walk, so replay() needs none of them.
    replay = None

    def fail(self, problem):
        """Raise a ShapeError that names this node."""
        raise ShapeError(f"{self.describe()}: {problem}")

    def expect_parents(self, count):
        if len(self.parents) != count:
            self.fail(f"takes {count} parent(s), got {len(self.parents)}")

    # The checks run on every interpreted step, so the valid case is a few comparisons in a plain loop;
    # the message is only built when something is wrong.
    def check_batches(self, *values):
        """All batched (3-D) values must hold the same number of samples."""
        size = None
        for value in values:
            if value.ndim == 3:
                if size is None:
                    size = value.shape[0]
                elif value.shape[0] != size:
                    self.fail(f"batch sizes differ: {sorted({v.shape[0] for v in values if v.ndim == 3})}")

    def check_same_shapes(self, *values):
        """Per-sample shapes must match exactly, as for elementwise operators."""
        self.check_batches(*values)
        shape = values[0].shape[-2:]
        for value in values:
            if value.shape[-2:] != shape:
                shapes = ", ".join(str(v.shape[-2:]) for v in values)
                self.fail(f"parents have different shapes {shapes}")


def swap(matrix):
    """Transpose each sample's matrix (the last two axes)."""
    return np.swapaxes(matrix, -1, -2)


def per_sample_sum(values):
    """Sum each sample's matrix to a 1x1 matrix: (r, c) -> (1, 1), (B, r, c) -> (B, 1, 1)."""
    rows, cols = values.shape[-2:]
    if rows * cols == 1:  # already one number per sample: a copy costs a fraction of a reduction
        return values.copy()
    if values.dtype.kind != "f":
        return values.sum(axis=(-2, -1), keepdims=True)
    # Each sample's entries as a row, times a vector of ones: one BLAS call, where NumPy sums a
    # batch of short rows in a slow loop (a third of the time at 256 samples of 10 classes).
    sums = values.reshape(-1, rows * cols) @ ones_vector(rows * cols, values.dtype)
    return sums.reshape(values.shape[:-2] + (1, 1))
