"""The explicit registry of node types a saved graph may name."""

import pytest

import matrixslow as ms
from matrixslow.core import NODE_TYPES, register_node_type


def test_registering_is_a_decorator_that_keeps_the_class():
    class Doubled(ms.ops.Operator):
        pass

    try:
        assert register_node_type(Doubled) is Doubled
        assert NODE_TYPES["Doubled"] is Doubled
        register_node_type(Doubled)  # the same class again is fine
    finally:
        NODE_TYPES.pop("Doubled", None)


def test_a_second_class_may_not_take_a_registered_name():
    class MatMul(ms.ops.Operator):  # deliberately the name of an engine operator
        pass

    with pytest.raises(ValueError, match="a node type named 'MatMul' is already registered"):
        register_node_type(MatMul)
    assert NODE_TYPES["MatMul"] is ms.ops.MatMul


def test_the_saved_format_has_a_version():
    assert isinstance(ms.core.FORMAT_VERSION, int) and ms.core.FORMAT_VERSION >= 1
