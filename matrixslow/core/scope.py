"""Name scopes and the book's look-up helpers."""

from .errors import GraphError, ShapeError
from .graph import get_default_graph


class name_scope:
    """Prefix the names of nodes created inside the block: ``with name_scope("Hidden"):``.

    Scopes nest ("Outer/Inner/MatMul:3") and apply to the current default graph,
    or to ``graph`` when given.
    """

    def __init__(self, name_scope, graph=None):
        if not name_scope or "/" in name_scope:
            raise ValueError(f"a name scope is a non-empty name without '/', got {name_scope!r}")
        self.name_scope = name_scope
        self.graph = graph

    def __enter__(self):
        self._entered = self.graph or get_default_graph()
        self._entered._scopes.append(self.name_scope)
        return self

    def __exit__(self, *exc_info):
        self._entered._scopes.pop()


def get_node_from_graph(node_name, name_scope=None, graph=None):
    """The node called ``node_name`` (inside ``name_scope`` when given), or None."""
    graph = graph or get_default_graph()
    if name_scope:
        node_name = f"{name_scope}/{node_name}"
    return graph.get(node_name)


def get_trainable_variables_from_graph(node_name=None, name_scope=None, graph=None):
    """Every trainable Variable of the graph, or the one called ``node_name``."""
    graph = graph or get_default_graph()
    if node_name is None:
        return [node for node in graph.nodes if getattr(node, "trainable", False)]
    return get_node_from_graph(node_name, name_scope, graph)


def update_node_value_in_graph(node_name, new_value, name_scope=None, graph=None):
    """Set the value of the named Variable, checking its shape."""
    node = get_node_from_graph(node_name, name_scope, graph)
    if node is None:
        raise GraphError(f"no node named '{node_name}' in the graph")
    if not hasattr(node, "set_value"):
        raise GraphError(f"{node.describe()} is not a Variable; only Variables take values from outside")
    if node.value is not None and node.value.shape != getattr(new_value, "shape", None):
        raise ShapeError(
            f"{node.describe()}: new value has shape {getattr(new_value, 'shape', None)}, expected {node.value.shape}"
        )
    node.set_value(new_value)
