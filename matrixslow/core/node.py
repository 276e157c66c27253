"""The node: one value in the graph, its parents and children, and its gradient."""

import numpy as np

from . import autodiff
from .book_value import BookValue
from .errors import GraphError
from .graph import get_default_graph


class Node:
    """A node of the computational graph.

    Every value is a matrix (a 2-D array) for one sample, or a batch of such
    matrices stacked on axis 0 (a 3-D array).

    Parameters
    ----------
    *parents : Node
        The nodes this node is computed from.
    name : str, optional
        Defaults to "ClassName:<node count>"; the current name scope is prefixed.
    graph : Graph, optional
        Defaults to the current default graph.
    need_save : bool, default True
        Whether a saver writes this node out.
    **kargs
        Operator settings (for example ``shape=`` of Reshape). They are kept in
        ``node.kargs`` so that a saved graph can rebuild the node.
    """

    def __init__(self, *parents, **kargs):
        self.graph = kargs.pop("graph", None) or get_default_graph()
        self.need_save = kargs.pop("need_save", True)
        self.name = self._full_name(kargs.pop("name", None))
        self.kargs = kargs
        self.parents = list(parents)
        self.children = []
        self.value = None
        self.grad = None
        for index, parent in enumerate(self.parents):
            self._check_parent(index, parent)
        # Linked only once the node is accepted, so a rejected node (a bad parent,
        # a duplicate name) leaves no trace among its parents' children.
        self.graph.add_node(self)
        for parent in self.parents:
            parent.children.append(self)

    def _full_name(self, name):
        if name is None:
            name = f"{type(self).__name__}:{self.graph.node_count()}"
        scope = self.graph.name_scope
        return f"{scope}/{name}" if scope else name

    def _check_parent(self, index, parent):
        if not isinstance(parent, Node):
            raise GraphError(f"{self.describe()}: parent {index} is a {type(parent).__name__}, expected a Node")
        if parent.graph is not self.graph:
            raise GraphError(f"{self.describe()}: parent '{parent.name}' belongs to another graph")

    def describe(self):
        """How errors name this node: its operator and its name."""
        return f"{type(self).__name__} '{self.name}'"

    # -- the book's accessors --------------------------------------------
    def get_parents(self):
        return self.parents

    def get_children(self):
        return self.children

    def shape(self):
        return self.value.shape

    def dimension(self):
        """Number of elements of one sample's value."""
        return int(np.prod(self.value.shape[-2:]))

    # -- forward ----------------------------------------------------------
    def compute(self):
        """Set ``self.value`` from the parents' values (defined by each node type)."""
        raise NotImplementedError(f"{type(self).__name__} does not define compute()")

    def forward(self):
        """Compute this node's value, and first every ancestor's that is missing.

        The values computed on the way, this one's included, are then readable the
        book's way too (``node.value.A``, ``.A1``; see ``BookValue``).
        """
        autodiff.forward(self)
        for node in autodiff.topological_order(self):
            if node.parents and type(node.value) is np.ndarray:  # computed nodes; Variables keep what was set
                node.value = node.value.view(BookValue)
        return self.value

    def reset_value(self, recursive=True):
        """Forget this value and, when recursive, every value computed from it.

        Keeps the invariant that a node with a value has ancestors with values,
        so the walk stops at nodes that are already empty.
        """
        self.value = None
        if recursive:
            forget_computed_from([self])

    # -- backward ---------------------------------------------------------
    def backward(self, result):
        """The book's call: backprop ``result`` and return its Jacobian with respect to this node.

        As in the book, the gradient stays until ``clear_jacobi()`` (of this node
        or of the graph) or an optimizer step: ``w.backward(loss)`` then
        ``b.backward(loss)`` leaves both ``w.jacobi`` and ``b.jacobi`` to read, and
        a second call before clearing returns the gradient already computed.
        """
        if self.grad is None:
            autodiff.backward(result, wrt=[self], clear=False)
        return self.jacobi

    @property
    def jacobi(self):
        """The gradient as the book's row vector: d result / d (this value, flattened row by row)."""
        if self.grad is None:
            return None
        return self.grad.reshape(*self.grad.shape[:-2], 1, -1)

    def clear_jacobi(self):
        self.grad = None

    def __repr__(self):
        shape = None if self.value is None else self.value.shape
        return f"<{self.describe()} value shape {shape}>"


def forget_computed_from(nodes):
    """Forget every value computed from any of ``nodes``, whose own values stay: one walk for them all.

    After an update changed many variables in place, one walk does what a ``reset_value`` each
    would, without walking again what the first walk emptied. It stops at nodes that are already
    empty, as a node with a value has ancestors with values.
    """
    pending = [child for node in nodes for child in node.children]
    while pending:
        node = pending.pop()
        if node.value is not None:
            node.value = None
            pending.extend(node.children)
