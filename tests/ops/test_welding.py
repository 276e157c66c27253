"""Welding: an identity node whose parent is chosen, and changed, after it is built."""

import numpy as np
import pytest

import matrixslow as ms
from matrixslow.core import Graph, GraphError, Variable
from matrixslow.ops import MatMul, Multiply, Sum, Welding


@pytest.fixture
def two_branches(graph):
    """Two candidate parents a = A x and b = B x, and y = sum(welded * c) built on the welding node."""
    x = Variable((2, 1), trainable=False, name="x")
    x.set_value(np.array([[1.0], [2.0]]))
    a_weights, b_weights = Variable((2, 2), name="A"), Variable((2, 2), name="B")
    a_weights.set_value(np.array([[1.0, 0.0], [0.0, 1.0]]))
    b_weights.set_value(np.array([[0.0, 3.0], [5.0, 0.0]]))
    c = Variable((2, 1), trainable=False, name="c")
    c.set_value(np.array([[10.0], [100.0]]))
    welded = Welding(name="welded")
    y = Sum(Multiply(welded, c))
    return x, a_weights, b_weights, c, welded, y, MatMul(a_weights, x), MatMul(b_weights, x)


def test_an_unwelded_node_cannot_be_computed(two_branches):
    *_, welded, y, _, _ = two_branches
    with pytest.raises(GraphError, match="Welding 'welded' is not welded to a node"):
        y.forward()


def test_after_weld_the_node_is_its_parent(two_branches):
    x, a_weights, b_weights, c, welded, y, a, b = two_branches
    welded.weld(a)
    assert welded.parents == [a]
    assert welded in a.children
    np.testing.assert_array_equal(welded.forward(), [[1.0], [2.0]])
    np.testing.assert_array_equal(y.forward(), [[210.0]])


def test_a_reweld_changes_the_value_and_the_gradients(two_branches):
    x, a_weights, b_weights, c, welded, y, a, b = two_branches
    welded.weld(a)
    y.forward()
    before = ms.core.backward(y, wrt=[a_weights, b_weights])
    np.testing.assert_array_equal(before[a_weights], c.value @ x.value.T)
    np.testing.assert_array_equal(before[b_weights], np.zeros((2, 2)))

    welded.weld(b)

    assert welded.parents == [b] and welded not in a.children
    np.testing.assert_array_equal(y.forward(), [[10.0 * 6.0 + 100.0 * 5.0]])
    order = ms.core.topological_order(y)
    assert b in order and a not in order and a_weights not in order
    after = ms.core.backward(y, wrt=[a_weights, b_weights])
    np.testing.assert_array_equal(after[a_weights], np.zeros((2, 2)))
    np.testing.assert_array_equal(after[b_weights], c.value @ x.value.T)


def test_weld_checks_its_new_parent(graph):
    welded = Welding(name="welded")
    with pytest.raises(GraphError, match="Welding 'welded': parent 0 is a int, expected a Node"):
        welded.weld(3)
    with Graph():
        elsewhere = Variable((1, 1), name="elsewhere")
    with pytest.raises(GraphError, match="parent 'elsewhere' belongs to another graph"):
        welded.weld(elsewhere)
    assert welded.parents == []
