"""Graph, nodes, variables, name scopes, look-ups and automatic differentiation."""

from .autodiff import backward, forward, jacobian, topological_order
from .errors import GraphError, ShapeError
from .graph import Graph, default_graph, get_default_dtype, get_default_graph, set_default_dtype
from .node import Node
from .registry import FORMAT_VERSION, NODE_TYPES, register_node_type
from .scope import (
    get_node_from_graph,
    get_trainable_variables_from_graph,
    name_scope,
    update_node_value_in_graph,
)
from .variable import Variable

register_node_type(Variable)

__all__ = [
    "FORMAT_VERSION",
    "NODE_TYPES",
    "Graph",
    "GraphError",
    "Node",
    "ShapeError",
    "Variable",
    "backward",
    "default_graph",
    "forward",
    "get_default_dtype",
    "get_default_graph",
    "get_node_from_graph",
    "get_trainable_variables_from_graph",
    "jacobian",
    "name_scope",
    "register_node_type",
    "set_default_dtype",
    "topological_order",
    "update_node_value_in_graph",
]
