"""The explicit registry of node types a saved graph may name.

A saved model names each node's type; only types listed here can be rebuilt
from it, so loading a file never instantiates an arbitrary class. The engine
registers its own types; users add theirs with ``register_node_type``.
"""

# Bump when the saved form of a graph changes incompatibly.
FORMAT_VERSION = 1

NODE_TYPES = {}


def register_node_type(cls):
    """Class decorator: allow ``cls`` to be named in a saved graph."""
    existing = NODE_TYPES.get(cls.__name__)
    if existing is not None and existing is not cls:
        raise ValueError(f"a node type named '{cls.__name__}' is already registered ({existing.__module__})")
    NODE_TYPES[cls.__name__] = cls
    return cls
