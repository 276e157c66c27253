"""The graph: nodes in creation order, looked up by name, several graphs side by side."""

import timeit

import numpy as np
import pytest

import matrixslow as ms
from matrixslow.core import Graph, Variable
from matrixslow.core.node import forget_computed_from
from matrixslow.ops import Add, MatMul, ReLU


def _small_net():
    x = Variable((2, 1), trainable=False, name="x")
    w = Variable((3, 2), init=True, name="w")
    b = Variable((3, 1), init=True, name="b")
    y = ReLU(Add(MatMul(w, x), b), name="y")
    x.set_value(np.array([[1.0], [-2.0]]))
    return x, w, b, y


class TestBuilding:
    def test_a_new_graph_is_empty(self):
        assert Graph().node_count() == 0
        assert Graph().nodes == []

    def test_nodes_are_kept_in_creation_order_and_counted(self, graph):
        x, w, b, y = _small_net()
        assert graph.node_count() == 6
        assert graph.nodes[:3] == [x, w, b]
        assert graph.nodes[-1] is y
        assert all(node.graph is graph for node in graph.nodes)

    def test_parents_and_children_are_linked_both_ways(self, graph):
        x, w, _, _ = _small_net()
        product = graph.get("MatMul:3")
        assert product.get_parents() == [w, x]
        assert x.get_children() == [product]

    def test_duplicate_names_are_rejected(self, graph):
        Variable((1, 1), name="w")
        with pytest.raises(ValueError, match="already has a node named 'w'"):
            Variable((1, 1), name="w")
        assert graph.node_count() == 1

    def test_a_parent_from_another_graph_is_rejected(self, graph):
        with Graph():
            elsewhere = Variable((2, 2), name="elsewhere")
        here = Variable((2, 2))
        with pytest.raises(ms.core.GraphError, match="parent 'elsewhere' belongs to another graph"):
            Add(here, elsewhere)


class TestLookUp:
    def test_get_finds_a_node_by_its_full_name(self, graph):
        x, w, _, y = _small_net()
        assert graph.get("x") is x
        assert graph.get("y") is y
        assert graph.get("nothing") is None

    def test_get_node_from_graph_reads_the_default_graph_or_the_one_given(self, graph):
        x, *_ = _small_net()
        assert ms.get_node_from_graph("x") is x
        assert ms.get_node_from_graph("x", graph=graph) is x
        assert ms.get_node_from_graph("x", graph=Graph()) is None

    def test_get_node_from_graph_prefixes_the_name_scope(self, graph):
        with ms.name_scope("Hidden"):
            w = Variable((1, 1), name="w")
        assert ms.get_node_from_graph("w", name_scope="Hidden") is w
        assert ms.get_node_from_graph("w") is None

    def test_look_up_takes_constant_time(self, graph):
        # A dictionary look-up: finding the last of many nodes costs no more than the first.
        names = [Variable((1, 1), name=f"v{i}").name for i in range(20_000)]
        first = min(timeit.repeat(lambda: graph.get(names[0]), number=2000, repeat=5))
        last = min(timeit.repeat(lambda: graph.get(names[-1]), number=2000, repeat=5))
        assert last < 50 * first  # a scan of 20,000 nodes would be thousands of times slower

    def test_get_trainable_variables_lists_only_trainable_ones_in_creation_order(self, graph):
        x, w, b, _ = _small_net()
        assert ms.core.get_trainable_variables_from_graph() == [w, b]
        assert ms.core.get_trainable_variables_from_graph(graph=graph) == [w, b]
        assert ms.core.get_trainable_variables_from_graph("w") is w

    def test_update_node_value_in_graph_sets_a_variable_by_name(self, graph):
        *_, y = _small_net()
        y.forward()
        ms.core.update_node_value_in_graph("w", np.zeros((3, 2)))
        np.testing.assert_array_equal(graph.get("w").value, np.zeros((3, 2)))
        assert y.value is None, "values computed from the old weights must be forgotten"

    def test_update_node_value_in_graph_checks_name_kind_and_shape(self, graph):
        _small_net()
        with pytest.raises(ms.core.GraphError, match="no node named 'nothing'"):
            ms.core.update_node_value_in_graph("nothing", np.zeros((3, 2)))
        with pytest.raises(ms.core.GraphError, match="ReLU 'y' is not a Variable"):
            ms.core.update_node_value_in_graph("y", np.zeros((3, 1)))
        with pytest.raises(ms.core.ShapeError, match=r"Variable 'w': new value has shape \(2, 3\), expected \(3, 2\)"):
            ms.core.update_node_value_in_graph("w", np.zeros((2, 3)))


class TestResetting:
    def test_reset_value_forgets_computed_values_but_keeps_variables(self, graph):
        x, w, b, y = _small_net()
        expected = np.maximum(w.value @ x.value + b.value, 0.1 * (w.value @ x.value + b.value))
        np.testing.assert_allclose(y.forward(), expected)
        inputs = {node: node.value.copy() for node in (x, w, b)}

        graph.reset_value()

        assert all(node.value is None for node in graph.nodes if not isinstance(node, Variable))
        for node, value in inputs.items():
            np.testing.assert_array_equal(node.value, value)
        np.testing.assert_allclose(y.forward(), expected)

    def test_clear_jacobi_forgets_every_gradient(self, graph):
        x, w, b, y = _small_net()
        ms.core.backward(y)
        assert w.jacobi is not None and b.jacobi is not None
        graph.clear_jacobi()
        assert all(node.grad is None and node.jacobi is None for node in graph.nodes)


class TestDtype:
    def test_a_graph_defaults_to_float64(self, graph):
        *_, y = _small_net()
        assert graph.dtype is np.float64
        assert y.forward().dtype == np.float64

    def test_a_float32_graph_computes_values_and_gradients_in_float32(self):
        with Graph(dtype=np.float32) as graph:
            x, w, b, y = _small_net()
            loss = ms.ops.Sum(y)
            optimizer = ms.optimizer.Adam(graph, loss, 0.1)
        optimizer.one_step()
        assert all(node.value.dtype == np.float32 for node in graph.nodes)
        assert all(node.grad.dtype == np.float32 for node in (w, b, y))
        optimizer.update()
        assert w.value.dtype == np.float32 and b.value.dtype == np.float32

    def test_a_graph_takes_only_float_types(self):
        with pytest.raises(ValueError, match="dtype must be float32 or float64, got int32"):
            Graph(dtype=np.int32)
        with pytest.raises(ValueError, match="got float16"):
            ms.core.set_default_dtype(np.float16)

    def test_set_default_dtype_applies_to_graphs_without_their_own(self):
        own = Graph(dtype=np.float64)
        follower = Graph()
        ms.core.set_default_dtype(np.float32)  # the conftest fixture restores it
        assert ms.core.get_default_dtype() is np.float32
        assert Graph().dtype is np.float32
        assert follower.dtype is np.float32
        assert own.dtype is np.float64
        with Graph():
            v = Variable((2, 2))
            v.set_value(np.ones((2, 2)))
        assert v.value.dtype == np.float32


class TestSeveralGraphs:
    def test_nodes_go_to_the_innermost_graph_of_a_with_block(self):
        with Graph() as outer:
            a = Variable((1, 1))
            with Graph() as inner:
                b = Variable((1, 1))
            c = Variable((1, 1))
        assert outer.nodes == [a, c]
        assert inner.nodes == [b]
        assert ms.core.get_default_graph() is ms.default_graph

    def test_as_default_does_the_same_as_with(self):
        graph = Graph()
        with graph.as_default() as entered:
            v = Variable((1, 1))
        assert entered is graph
        assert graph.nodes == [v]

    def test_graphs_held_at_once_keep_their_own_names_and_values(self):
        graphs, outputs = [], []
        for scale in (1.0, 2.0):
            with Graph() as graph:
                x, w, b, y = _small_net()
                w.set_value(np.full((3, 2), scale))
                b.set_value(np.zeros((3, 1)))
            graphs.append(graph)
            outputs.append(y)
        # Same automatic names in both: the counters are per graph.
        assert [n.name for n in graphs[0].nodes] == [n.name for n in graphs[1].nodes]
        assert graphs[0].get("y") is outputs[0] and graphs[1].get("y") is outputs[1]
        np.testing.assert_allclose(outputs[0].forward(), np.full((3, 1), 0.1 * -1.0))
        np.testing.assert_allclose(outputs[1].forward(), np.full((3, 1), 0.1 * -2.0))
        graphs[0].reset_value()
        assert outputs[0].value is None
        assert outputs[1].value is not None

    def test_the_graph_stack_is_restored_when_the_block_raises(self):
        with pytest.raises(RuntimeError), Graph():
            raise RuntimeError("boom")
        assert ms.core.get_default_graph() is ms.default_graph


class TestEditingNodesTheBooksWay:
    """The book resets graphs by editing ``graph.nodes``; the name index and cached orders follow."""

    def test_nodes_clear_lets_the_next_model_reuse_the_default_names(self, graph):
        first = Variable((1, 1), init=True)
        assert first.name == "Variable:0"
        graph.nodes.clear()
        assert graph.get("Variable:0") is None
        second = Variable((1, 1), init=True)
        assert second.name == "Variable:0" and graph.get("Variable:0") is second
        assert list(graph.nodes) == [second]

    def test_assigning_a_copied_list_keeps_its_nodes_findable(self, graph):
        x, w, b, y = _small_net()
        other = ms.core.Graph()
        other.nodes = graph.nodes.copy()
        assert other.get(w.name) is w and other.node_count() == graph.node_count()
        with pytest.raises(ms.core.GraphError, match="already has a node named 'x'"):
            Variable((2, 1), name="x", graph=other)

    @pytest.mark.parametrize(
        "edit",
        [
            lambda nodes: nodes.pop(),
            lambda nodes: nodes.remove(nodes[-1]),
            lambda nodes: nodes.__delitem__(slice(-1, None)),
            lambda nodes: nodes.__setitem__(slice(None), nodes[:-1]),
        ],
        ids=["pop", "remove", "del", "slice-assign"],
    )
    def test_every_list_edit_updates_the_name_index(self, graph, edit):
        kept = Variable((1, 1), name="kept")
        Variable((1, 1), name="dropped")
        edit(graph.nodes)
        assert graph.get("dropped") is None and graph.get("kept") is kept
        assert Variable((1, 1), name="dropped").name == "dropped"

    def test_growing_the_list_indexes_the_new_nodes(self, graph):
        a = Variable((1, 1), name="a")
        graph.nodes.clear()
        graph.nodes.extend([a])
        assert graph.get("a") is a
        graph.nodes.clear()
        graph.nodes += [a]
        assert graph.get("a") is a and isinstance(graph.nodes, type(ms.core.Graph().nodes))
        graph.nodes.clear()
        graph.nodes.insert(0, a)
        assert graph.get("a") is a

    def test_an_edit_invalidates_cached_topological_orders(self, graph):
        x, w, b, y = _small_net()
        ms.core.topological_order(y)
        version = graph.version
        graph.nodes.append(Variable((1, 1), name="spare", graph=ms.core.Graph()))
        assert graph.version > version and not graph._order_cache

    def test_a_graph_with_an_edited_list_still_pickles(self, graph):
        import pickle

        x, w, b, y = _small_net()
        graph.nodes.pop()
        copy = pickle.loads(pickle.dumps(graph))
        assert [node.name for node in copy.nodes] == [node.name for node in graph.nodes]
        assert copy.get(w.name) is next(node for node in copy.nodes if node.name == w.name)
        Variable((1, 1), name=y.name, graph=copy)  # the popped name is free in the copy too


def test_forget_computed_from_several_variables_is_each_ones_changed_in_place(graph):
    def build():
        a, b, c = (Variable((2, 2), init=False, trainable=True) for _ in range(3))
        for variable, value in zip((a, b, c), (1.0, 2.0, 3.0), strict=True):
            variable.set_value(np.full((2, 2), value))
        ab = Add(a, b)  # shared by both variables walked
        outputs = [ReLU(ab), MatMul(ab, a), ReLU(c)]  # c's branch must keep its value
        for output in outputs:
            output.forward()
        return (a, b, c), [ab, *outputs]

    with Graph():
        (a, b, _), computed = build()
        a.changed_in_place()
        b.changed_in_place()
        expected = [node.value is None for node in computed]
    with Graph():
        variables, computed = build()
        forget_computed_from(variables[:2])
        assert [node.value is None for node in computed] == expected == [True, True, True, False]
        assert all(variable.value is not None for variable in variables)
