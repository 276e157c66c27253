"""Operators that move elements around: Reshape, Transpose, Concat, Sum, Welding."""

import numpy as np

from ..core.errors import GraphError
from ..core.registry import register_node_type
from .base import Operator, per_sample_sum, swap


@register_node_type
class Reshape(Operator):
    """Give each sample's matrix a new shape with the same number of elements (row-major)."""

    def __init__(self, *parents, shape, **kargs):
        if not (isinstance(shape, (tuple, list)) and len(shape) == 2):
            raise ValueError(f"Reshape: shape must be (rows, cols), got {shape!r}")
        shape = (int(shape[0]), int(shape[1]))
        super().__init__(*parents, shape=shape, **kargs)
        self.to_shape = shape

    def compute(self):
        self.expect_parents(1)
        x = self.parents[0].value
        if x.shape[-2] * x.shape[-1] != self.to_shape[0] * self.to_shape[1]:
            self.fail(f"cannot reshape {x.shape[-2:]} to {self.to_shape}")
        self.value = x.reshape(x.shape[:-2] + self.to_shape)

    def vjp(self, parent_index, grad):
        return grad.reshape(self.parents[0].value.shape)


@register_node_type
class Transpose(Operator):
    """Transpose each sample's matrix."""

    def compute(self):
        self.expect_parents(1)
        self.value = swap(self.parents[0].value)

    def vjp(self, parent_index, grad):
        return swap(grad)


@register_node_type
class Sum(Operator):
    """Sum of all elements of each sample's matrix, as a 1x1 matrix."""

    def compute(self):
        self.expect_parents(1)
        self.value = per_sample_sum(self.parents[0].value)

    def vjp(self, parent_index, grad):
        return np.broadcast_to(grad, self.parents[0].value.shape)


@register_node_type
class Concat(Operator):
    """Flatten every parent row by row and stack them into one column vector (the book's Concat)."""

    def compute(self):
        values = [parent.value for parent in self.parents]
        if not values:
            self.fail("needs at least one parent")
        self.check_batches(*values)
        batch = next((value.shape[0] for value in values if value.ndim == 3), None)
        if batch is None:
            self.value = np.concatenate([value.reshape(-1) for value in values])[:, None]
            return
        # A shared (2-D) parent is repeated for every sample of the batch.
        flat = [
            np.broadcast_to(value.reshape(value.shape[:-2] + (-1,)), (batch, value.shape[-2] * value.shape[-1]))
            for value in values
        ]
        self.value = np.concatenate(flat, axis=1)[:, :, None]

    def vjp(self, parent_index, grad):
        sizes = [parent.value.shape[-2] * parent.value.shape[-1] for parent in self.parents]
        start = sum(sizes[:parent_index])
        piece = grad[..., start : start + sizes[parent_index], 0]
        return piece.reshape(grad.shape[:-2] + self.parents[parent_index].value.shape[-2:])


@register_node_type
class Welding(Operator):
    """An identity node whose parent can be changed later with ``weld`` (for variable-length RNNs)."""

    def compute(self):
        if len(self.parents) != 1:
            raise GraphError(f"{self.describe()} is not welded to a node: call weld(node) first")
        self.value = self.parents[0].value

    def vjp(self, parent_index, grad):
        return grad

    def weld(self, node):
        """Make ``node`` this node's only parent, replacing any earlier one."""
        self._check_parent(0, node)
        for parent in self.parents:
            parent.children.remove(self)
        self.parents = [node]
        node.children.append(self)
        self.reset_value()
        self.graph.structure_changed()
