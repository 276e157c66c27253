"""Sums and products: Add, MatMul, Multiply, ScalarMultiply."""

from ..core.registry import register_node_type
from .base import Operator, per_sample_sum
from .products import grad_left, grad_right, matmul


@register_node_type
class Add(Operator):
    """Sum of any number of parents of the same shape."""

    def compute(self):
        if not self.parents:
            self.fail("needs at least one parent")
        self.check_same_shapes(*[parent.value for parent in self.parents])
        self.replay()

    def replay(self):
        parents = self.parents
        total = parents[0].value + parents[1].value if len(parents) > 1 else parents[0].value
        for parent in parents[2:]:
            total = total + parent.value  # not "+=": a later parent may be a batch that broadcasts a shared sum
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
        self.replay()

    def replay(self):
        self.value = matmul(self.parents[0].value, self.parents[1].value)

    def vjp(self, parent_index, grad):
        # dA = G B^T and dB = A^T G, each one GEMM over the whole batch (see products.py); for a
        # shared (2-D) operand the batch sum is folded into that same product.
        a, b = self.parents[0].value, self.parents[1].value
        return grad_left(a, b, grad) if parent_index == 0 else grad_right(a, b, grad)


@register_node_type
class Multiply(Operator):
    """Elementwise product of two parents of the same shape."""

    def compute(self):
        self.expect_parents(2)
        a, b = self.parents[0].value, self.parents[1].value
        self.check_same_shapes(a, b)
        self.replay()

    def replay(self):
        self.value = self.parents[0].value * self.parents[1].value

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
        self.replay()

    replay = Multiply.replay  # a 1x1 times a matrix is NumPy's broadcasting product too

    def vjp(self, parent_index, grad):
        scalar, matrix = self.parents[0].value, self.parents[1].value
        if parent_index == 0:
            return per_sample_sum(grad * matrix)
        return grad * scalar
