"""Node names: "ClassName:<count>" by default, prefixed by the enclosing name scopes."""

import pytest

import matrixslow as ms
from matrixslow.core import Graph, Variable
from matrixslow.ops import MatMul, MaxPooling, ReLU, Reshape


def _three_variables():
    return [Variable((2, 2)) for _ in range(3)]


def test_an_automatic_name_is_the_class_and_the_number_of_nodes_before_it(graph):
    a, b, _ = _three_variables()
    product = MatMul(a, b)
    assert [node.name for node in graph.nodes] == ["Variable:0", "Variable:1", "Variable:2", "MatMul:3"]
    assert product.name == "MatMul:3"


def test_nested_scopes_prefix_every_level(graph):
    a, b, _ = _three_variables()
    with ms.name_scope("Outer"):
        with ms.name_scope("Inner"):
            inner = MatMul(a, b)
        outer = MatMul(a, b)
    after = MatMul(a, b)
    assert inner.name == "Outer/Inner/MatMul:3"
    assert outer.name == "Outer/MatMul:4"
    assert after.name == "MatMul:5"
    assert graph.get("Outer/Inner/MatMul:3") is inner


def test_an_explicit_name_gets_the_scope_prefix_too(graph):
    with ms.name_scope("Hidden"):
        w = Variable((2, 2), name="weights")
    assert w.name == "Hidden/weights"
    assert ms.get_node_from_graph("weights", name_scope="Hidden") is w


def test_the_scope_is_closed_when_its_block_raises(graph):
    with pytest.raises(RuntimeError), ms.name_scope("Broken"):
        raise RuntimeError("boom")
    assert Variable((1, 1)).name == "Variable:0"


def test_a_scope_applies_to_the_graph_it_is_given():
    first, second = Graph(), Graph()
    with first, ms.name_scope("Only", graph=second):
        in_first = Variable((1, 1))
        in_second = Variable((1, 1), graph=second)
    assert in_first.name == "Variable:0"
    assert in_second.name == "Only/Variable:0"


@pytest.mark.parametrize("bad", ["", "a/b"])
def test_a_scope_name_is_non_empty_and_has_no_slash(bad):
    with pytest.raises(ValueError, match="a name scope is a non-empty name without '/'"):
        ms.name_scope(bad)


def test_kargs_keep_the_operator_settings_needed_to_rebuild_a_node(graph):
    x = Variable((4, 4))
    reshape = Reshape(x, shape=[2, 8])
    pool = MaxPooling(x, size=(3, 3), stride=[2, 2])
    relu = ReLU(x, nslope=0.2)
    default_relu = ReLU(x)
    assert reshape.kargs == {"shape": (2, 8)}
    assert pool.kargs == {"size": (3, 3), "stride": (2, 2)}
    assert relu.kargs == {"nslope": 0.2}
    assert default_relu.kargs == {"nslope": 0.1}


def test_kargs_leave_out_the_node_bookkeeping(graph):
    x = Variable((4, 4), name="x", need_save=False)
    relu = ReLU(x, name="act", graph=graph, need_save=False)
    assert relu.kargs == {"nslope": 0.1}
    assert x.need_save is False and relu.need_save is False
