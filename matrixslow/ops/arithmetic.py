"""Sums and products: Add, MatMul, Multiply, ScalarMultiply."""

import numpy as np

from ..core.registry import register_node_type
from .base import Operator, per_sample_sum, swap


def matmul(a, b):
    """Matrix product of matrices or batches of matrices.

    Why not just ``a @ b``: for a weight shared by a batch, ``@`` makes one small
    product per sample. Folding the batch into the other operand's rows (or
    columns) turns the whole batch into one BLAS call.
    """
    if a.ndim == 2 and b.ndim == 3:
        return np.tensordot(a, b, axes=(1, 1)).transpose(1, 0, 2)  # (n, B, m) -> (B, n, m)
    if a.ndim == 3 and b.ndim == 2:
        return np.tensordot(a, b, axes=(2, 0))  # (B, n, k) x (k, m): B*n rows at once
    return a @ b


@register_node_type
class Add(Operator):
    """Sum of any number of parents of the same shape."""

    def compute(self):
        values = [parent.value for parent in self.parents]
        if not values:
            self.fail("needs at least one parent")
        self.check_same_shapes(*values)
        total = values[0]
        for value in values[1:]:
            total = total + value
        self.value = total

    def vjp(self, parent_index, grad):
        return grad


@register_node_type
class MatMul(Operator):
    """Matrix product of two parents: (n, k) @ (k, m) -> (n, m), per sample."""

    def compute(self):
        self.expect_parents(2)
        a, b = self.parents[0].value, self.parents[1].value
        self.check_batches(a, b)
        if a.shape[-1] != b.shape[-2]:
            self.fail(f"cannot multiply {a.shape[-2:]} by {b.shape[-2:]}")
        self.value = matmul(a, b)

    def vjp(self, parent_index, grad):
        a, b = self.parents[0].value, self.parents[1].value
        # dA = G B^T and dB = A^T G. For a shared (2-D) operand the batch sum
        # is folded into the same product: one GEMM over (samples x rows/cols).
        if parent_index == 0:
            if a.ndim == 2 and grad.ndim == 3:
                return np.tensordot(grad, b, axes=([0, 2], [0, 2]))
            return matmul(grad, swap(b))
        if b.ndim == 2 and grad.ndim == 3:
            return np.tensordot(a, grad, axes=([0, 1], [0, 1]))
        return matmul(swap(a), grad)


@register_node_type
class Multiply(Operator):
    """Elementwise product of two parents of the same shape."""

    def compute(self):
        self.expect_parents(2)
        a, b = self.parents[0].value, self.parents[1].value
        self.check_same_shapes(a, b)
        self.value = a * b

    def vjp(self, parent_index, grad):
        other = self.parents[1 - parent_index].value
        return grad * other


@register_node_type
class ScalarMultiply(Operator):
    """A 1x1 matrix (first parent) times a matrix (second parent)."""

    def compute(self):
        self.expect_parents(2)
        scalar, matrix = self.parents[0].value, self.parents[1].value
        self.check_batches(scalar, matrix)
        if scalar.shape[-2:] != (1, 1):
            self.fail(f"first parent must be a 1x1 scalar, got {scalar.shape[-2:]}")
        self.value = scalar * matrix

    def vjp(self, parent_index, grad):
        scalar, matrix = self.parents[0].value, self.parents[1].value
        if parent_index == 0:
            return per_sample_sum(grad * matrix)
        return grad * scalar
