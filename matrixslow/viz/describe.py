"""How a picture names a node: its type, its value's shape and its gradient's size."""

import re

import numpy as np


def type_name(node):
    return type(node).__name__


def shape_text(node):
    """The node's value shape, "(B=32, 10, 1)" for a batch; a Variable without a value shows its dim."""
    if node.value is None:
        dim = getattr(node, "dim", None)
        return f"{tuple(dim)}" if dim is not None else "(no value)"
    shape = node.value.shape
    if len(shape) == 3:
        return f"(B={shape[0]}, {shape[1]}, {shape[2]})"
    return str(tuple(shape))


def short_name(node):
    """The last part of the node's scoped name: "MatMul:3" for "Hidden/MatMul:3"."""
    return node.name.rsplit("/", 1)[-1]


def title(node):
    """The first label line: the short name when it already says the type, else "name (Type)"."""
    name = short_name(node)
    if re.fullmatch(rf"{re.escape(type_name(node))}(:\d+)?", name):
        return name
    return f"{name} ({type_name(node)})"


def gradient_norm(node):
    """The Frobenius norm of ``node.grad`` over the whole batch, or None without a gradient."""
    grad = getattr(node, "grad", None)
    if grad is None:
        return None
    return float(np.sqrt(np.sum(np.square(grad, dtype=np.float64))))


def norm_text(norm):
    return f"|grad| = {norm:.3g}"
