"""MatrixSlow: a readable deep-learning framework on matrix-valued computational graphs.

import matrixslow as ms
x = ms.core.Variable(dim=(4, 1), init=False, trainable=False)
"""

from . import core, layer, model, ops, optimizer, trainer
from .core import (
    Graph,
    Variable,
    default_graph,
    get_default_graph,
    get_node_from_graph,
    name_scope,
)

__version__ = "0.1.0"

__all__ = [
    "Graph",
    "Variable",
    "core",
    "default_graph",
    "get_default_graph",
    "get_node_from_graph",
    "layer",
    "model",
    "name_scope",
    "ops",
    "optimizer",
    "trainer",
]
