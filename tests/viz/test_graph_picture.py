"""draw_graph and Graph.draw: a labelled box per node, an arrow per edge, colour by gradient norm."""

import matplotlib.colors
import matplotlib.figure
import matplotlib.text
import numpy as np

import matrixslow as ms
from matrixslow.ops import Tanh
from matrixslow.viz import draw_graph, layout
from matrixslow.viz.graph_picture import COLOUR_MAP, LABEL_LIMIT, NO_GRADIENT

from .conftest import BATCH, assert_png


def boxes_by_name(ax):
    return {text.get_gid(): text for text in ax.texts if text.get_gid() is not None}


def arrows(ax):
    return [text for text in ax.texts if isinstance(text, matplotlib.text.Annotation)]


def fill(box):
    return matplotlib.colors.to_rgba(box.get_bbox_patch().get_facecolor())


def test_before_backward_every_node_is_a_grey_box_labelled_with_its_type_and_shape(mlp, tmp_path):
    graph, _, _ = mlp
    path = tmp_path / "before.png"
    ax = draw_graph(graph, path=path)
    boxes = boxes_by_name(ax)
    assert set(boxes) == {node.name for node in graph.nodes}
    assert boxes["x"].get_text() == f"x (Variable)\n(B={BATCH}, 4, 1)"  # inputs hold a batch
    assert boxes["Hidden/Variable:2"].get_text() == "Variable:2\n(8, 4)"  # a weight: its dim
    assert boxes["Hidden/MatMul:4"].get_text() == "MatMul:4\n(no value)"  # nothing computed yet
    for box in boxes.values():
        assert fill(box) == matplotlib.colors.to_rgba(NO_GRADIENT)
    figure = ax.figure
    width, height = (figure.get_size_inches() * figure.dpi).round().astype(int)
    assert_png(path, width, height)


def test_after_backward_boxes_show_shapes_and_are_coloured_by_gradient_norm(mlp, tmp_path):
    graph, loss, _ = mlp
    ms.core.backward(loss)
    figure = matplotlib.figure.Figure(figsize=(8, 6), dpi=100)
    path = tmp_path / "after.png"
    ax = draw_graph(graph, ax=figure.add_subplot(), path=path)
    assert_png(path, 800, 600)

    boxes = boxes_by_name(ax)
    assert boxes["Hidden/MatMul:4"].get_text().startswith(f"MatMul:4\n(B={BATCH}, 8, 1)\n|grad| = ")
    norms = {node.name: float(np.linalg.norm(node.grad)) for node in graph.nodes if node.grad is not None}
    assert {"x", "label"}.isdisjoint(norms) and len(norms) == len(graph.nodes) - 2
    for name in ("x", "label"):
        assert fill(boxes[name]) == matplotlib.colors.to_rgba(NO_GRADIENT)
    colour_map = matplotlib.colormaps[COLOUR_MAP]
    largest, smallest = max(norms, key=norms.get), min(norms, key=norms.get)
    assert np.allclose(fill(boxes[largest]), colour_map(1.0))
    assert np.allclose(fill(boxes[smallest]), colour_map(0.0))
    assert f"|grad| = {norms['loss']:.3g}" in boxes["loss"].get_text()

    (colour_bar,) = [child for child in figure.axes if child is not ax]
    low, high = colour_bar.get_ylim()
    assert np.isclose(low, norms[smallest]) and np.isclose(high, norms[largest])


def test_an_arrow_runs_from_each_parent_to_each_child(mlp):
    graph, _, _ = mlp
    ax = draw_graph(graph)
    positions = layout(graph)
    drawn = sorted((arrow.xyann, arrow.xy) for arrow in arrows(ax))
    expected = sorted((positions[parent], positions[child]) for child in graph.nodes for parent in child.parents)
    assert drawn == expected and len(drawn) == 11


def test_an_optimizer_step_leaves_gradients_to_colour(mlp):
    graph, loss, _ = mlp
    ms.optimizer.Adam(graph, loss, 0.01).one_step()
    boxes = boxes_by_name(draw_graph(graph))
    assert fill(boxes["loss"]) != matplotlib.colors.to_rgba(NO_GRADIENT)


def test_graph_draw_is_the_same_picture(mlp, tmp_path):
    graph, _, _ = mlp
    ax = graph.draw(path=tmp_path / "graph.png")
    assert set(boxes_by_name(ax)) == {node.name for node in graph.nodes}
    assert (tmp_path / "graph.png").stat().st_size > 0


def test_a_2000_node_chain_is_drawn_as_coloured_dots_without_labels(graph, tmp_path):
    node = ms.core.Variable((1, 1), name="start")
    node.set_value(np.ones((1, 1)))
    for _ in range(2000):
        node = Tanh(node)
    ms.core.backward(node)
    path = tmp_path / "chain.png"
    ax = draw_graph(graph, path=path)
    assert graph.node_count() > LABEL_LIMIT
    assert boxes_by_name(ax) == {} and arrows(ax) == []
    dots = [collection for collection in ax.collections if len(collection.get_offsets()) == 2001]
    assert len(dots) == 1
    width, height = (ax.figure.get_size_inches() * ax.figure.dpi).round().astype(int)
    assert height <= 3000  # capped at 30 inches, however deep the graph
    assert_png(path, width, height)


def test_an_empty_graph_draws_an_empty_picture(graph, tmp_path):
    ax = draw_graph(graph, path=tmp_path / "empty.png")
    assert len(ax.texts) == 0 and ax.get_title() == "0 nodes, 0 with a gradient"
