"""Layers and positions: parents strictly above children, deep graphs without recursion."""

import itertools

import numpy as np
import pytest

import matrixslow as ms
from matrixslow.ops import Add, Tanh, Welding
from matrixslow.viz import assign_layers, layout, order_layers


def longest_path_from_a_source(node):
    """Brute force: the number of edges on the longest path from any parentless node to ``node``."""
    if not node.parents:
        return 0
    return 1 + max(longest_path_from_a_source(parent) for parent in node.parents)


def test_every_parent_is_in_a_layer_above_each_of_its_children(mlp):
    graph, _, _ = mlp
    layer = assign_layers(graph)
    assert set(layer) == set(graph.nodes)
    for child in graph.nodes:
        for parent in child.parents:
            assert layer[parent] < layer[child], (parent.name, child.name)


def test_a_computed_node_sits_one_layer_below_its_longest_path_from_the_inputs(graph):
    a = ms.core.Variable((1, 1), name="a")
    b = Tanh(a, name="b")
    c = Tanh(b, name="c")
    d = Add(a, c, name="d")  # a short edge a -> d and a long path a -> b -> c -> d
    e = Add(d, b, name="e")
    layer = assign_layers(graph)
    for node in (b, c, d, e):
        assert layer[node] == longest_path_from_a_source(node), node.name
    assert layer == {a: 0, b: 1, c: 2, d: 3, e: 4}


def test_an_input_or_weight_sits_just_above_its_highest_child(mlp):
    graph, _, x = mlp
    layer = assign_layers(graph)
    for node in graph.nodes:
        if not node.parents and node.children:
            assert layer[node] == min(layer[child] for child in node.children) - 1, node.name
    second_weights = graph.get("Variable:7")
    assert layer[second_weights] == layer[graph.get("MatMul:9")] - 1 > layer[x]


def test_positions_put_parents_above_children_and_never_two_nodes_on_one_spot(mlp):
    graph, _, _ = mlp
    positions = layout(graph)
    for child in graph.nodes:
        for parent in child.parents:
            assert positions[parent][1] > positions[child][1]
    assert len(set(positions.values())) == len(graph.nodes)


def test_each_row_is_centred_with_one_unit_between_neighbours(mlp):
    graph, _, _ = mlp
    rows = order_layers(graph, assign_layers(graph))
    assert sorted(itertools.chain.from_iterable(rows), key=graph.nodes.index) == graph.nodes
    positions = layout(graph)
    for row in rows:
        xs = sorted(positions[node][0] for node in row)
        assert xs == pytest.approx([i - (len(row) - 1) / 2 for i in range(len(row))])


def test_a_2000_node_chain_gets_one_layer_per_node_without_recursion(graph):
    node = ms.core.Variable((1, 1), name="start")
    chain = [node]
    for _ in range(2000):
        node = Tanh(node)
        chain.append(node)
    layer = assign_layers(graph)  # far deeper than Python's recursion limit of 1000
    assert [layer[node] for node in chain] == list(range(2001))
    positions = layout(graph)
    assert [positions[node] for node in chain] == [(0.0, -float(i)) for i in range(2001)]


def test_a_cycle_is_reported_with_the_nodes_on_it(graph):
    loop = Welding(name="loop")
    step = Tanh(loop, name="step")
    loop.weld(step)
    with pytest.raises(ms.core.GraphError, match="cycle through loop, step"):
        assign_layers(graph)


def test_an_empty_graph_has_no_layers(graph):
    assert assign_layers(graph) == {}
    assert layout(graph) == {}


def test_something_other_than_a_graph_is_refused(graph):
    with pytest.raises(TypeError, match="expected a matrixslow Graph, got list"):
        layout([np.zeros(1)])
