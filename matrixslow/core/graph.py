"""The computational graph: a named collection of nodes, and which graph is the default."""

import contextlib

import numpy as np

from .errors import GraphError
from .node_list import NodeList
from .plan import PlanCache, compiled_by_default

_default_dtype = np.float64


def set_default_dtype(dtype):
    """Choose the float type of every graph that does not set its own.

    float64 is the default. float32 halves memory traffic and roughly doubles the
    speed of the large matrix products; gradient checks should stay in float64.
    """
    global _default_dtype
    _default_dtype = _float_dtype(dtype)


def get_default_dtype():
    return _default_dtype


def _float_dtype(dtype):
    dtype = np.dtype(dtype).type
    if dtype not in (np.float32, np.float64):
        raise ValueError(f"dtype must be float32 or float64, got {np.dtype(dtype).name}")
    return dtype


class Graph:
    """A computational graph: the nodes in creation order, looked up by name in O(1).

    Parameters
    ----------
    dtype : float32 or float64, optional
        The float type of this graph's values. Without it the graph follows
        ``set_default_dtype``.
    compiled : bool, optional
        Whether steps replay a compiled plan (the default) or run the plain
        interpreter; without it, the environment decides (``MATRIXSLOW_INTERPRETER=1``
        means the interpreter). Both give the same values, gradients and errors.

    Use ``with Graph() as g:`` (or ``with g.as_default():``) to build nodes into
    ``g`` instead of the global ``default_graph``.
    """

    def __init__(self, dtype=None, compiled=None):
        self._nodes = NodeList(graph=self)
        self._by_name = {}
        self._scopes = []
        self._dtype = None if dtype is None else _float_dtype(dtype)
        # Bumped on every structural edit (a new node, a weld), so cached
        # topological orders know when they are stale.
        self.version = 0
        self._order_cache = {}
        # Run each step from a compiled plan (core/plan.py), or, when False, by the plain interpreter.
        self.compiled = compiled_by_default() if compiled is None else bool(compiled)
        self.plans = PlanCache()

    @property
    def nodes(self):
        """The nodes in creation order. The book edits this list directly; the graph follows."""
        return self._nodes

    @nodes.setter
    def nodes(self, nodes):
        self._nodes = NodeList(nodes, graph=self)
        self.nodes_edited()

    @property
    def dtype(self):
        return self._dtype if self._dtype is not None else _default_dtype

    @dtype.setter
    def dtype(self, dtype):
        if self.nodes:
            raise GraphError(f"cannot change the dtype of a graph that already has {len(self.nodes)} nodes")
        self._dtype = _float_dtype(dtype)

    @property
    def explicit_dtype(self):
        """The dtype this graph was given, or None while it follows ``set_default_dtype``."""
        return self._dtype

    @property
    def name_scope(self):
        """The current name scope as "Outer/Inner", or None outside any scope."""
        return "/".join(self._scopes) if self._scopes else None

    def add_node(self, node):
        by_name = self._name_index()
        if node.name in by_name:
            raise GraphError(f"graph already has a node named '{node.name}'; node names must be unique")
        list.append(self._nodes, node)  # the list's own append: the index is kept up to date right here
        by_name[node.name] = node
        self.structure_changed()

    def get(self, name):
        """The node called ``name``, or None."""
        return self._name_index().get(name)

    def _name_index(self):
        if self._by_name is None:
            self._by_name = {node.name: node for node in self._nodes}
        return self._by_name

    def nodes_edited(self):
        """Called by ``nodes`` after any change to the list: the index is rebuilt when next needed."""
        self._by_name = None
        self.structure_changed()

    def structure_changed(self):
        self.version += 1
        self._order_cache.clear()
        self.plans.clear()

    def node_count(self):
        return len(self.nodes)

    def clear_jacobi(self):
        """Forget every node's gradient (the book's name for it)."""
        for node in self.nodes:
            node.clear_jacobi()

    def reset_value(self):
        """Forget every computed value; Variables keep theirs."""
        for node in self.nodes:
            if node.parents:  # computed nodes; Variables (no parents) hold inputs and weights
                node.reset_value(recursive=False)

    @contextlib.contextmanager
    def as_default(self):
        """Make this graph the default for the nodes created inside the block."""
        _graph_stack.append(self)
        try:
            yield self
        finally:
            _graph_stack.pop()

    def __enter__(self):
        _graph_stack.append(self)
        return self

    def __exit__(self, *exc_info):
        _graph_stack.pop()

    def draw(self, ax=None, path=None):
        """Draw the graph, boxes coloured by gradient norm (needs the ``viz`` extra: ``pip install -e ".[viz]"``).

        Returns the matplotlib Axes; writes a PNG when ``path`` is given. See ``matrixslow.viz.draw_graph``.
        """
        from ..viz import draw_graph  # imported here so that core never needs matplotlib

        return draw_graph(self, ax=ax, path=path)

    def to_dot(self):
        """The graph as Graphviz DOT text. See ``matrixslow.viz.graph_to_dot``."""
        from ..viz import graph_to_dot

        return graph_to_dot(self)

    def __repr__(self):
        return f"<Graph with {len(self.nodes)} nodes, {np.dtype(self.dtype).name}>"


default_graph = Graph()
_graph_stack = [default_graph]


def get_default_graph():
    """The graph new nodes go into: the innermost ``with graph:`` block, else ``default_graph``."""
    return _graph_stack[-1]
