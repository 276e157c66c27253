"""The ConvNet against a NumPy forward pass built from the reference convolution and pooling."""

import numpy as np
import pytest

import matrixslow as ms
from tests.model.cases import leaky_relu, trainable
from tests.ops.cases import correlate_same, max_pool


def conv_layer(maps, weights, in_count):
    """The book's conv layer from its Variables in creation order: per output, one kernel per input map, a bias."""
    out = []
    per_output = in_count + 1
    for start in range(0, len(weights), per_output):
        *kernels, bias = weights[start : start + per_output]
        total = sum(correlate_same(m, kernel) for m, kernel in zip(maps, kernels, strict=True))
        out.append(leaky_relu(total + bias[0, 0]))
    return out


def numpy_cnn(image, graph, kernels, pooling, hidden_layers):
    maps = [image]
    for index, count in enumerate(kernels, start=1):
        weights = [node.value for node in trainable(graph, f"Conv{index}/")]
        assert len(weights) == count * (len(maps) + 1)
        maps = conv_layer(maps, weights, len(maps))
        if pooling is not None:
            maps = [max_pool(m, *pooling) for m in maps]
    h = np.concatenate([m.ravel() for m in maps])
    for index in range(1, hidden_layers + 1):
        w, b = (node.value for node in trainable(graph, f"Hidden{index}/"))
        h = leaky_relu(w @ h + b[:, 0])
    w, b = (node.value for node in trainable(graph, "Output/"))
    return w @ h + b[:, 0]


@pytest.mark.parametrize(
    ("kernels", "pooling", "hidden"),
    [((2, 3), ((3, 3), (2, 2)), (5,)), ((2,), None, ()), ((1, 2), ((2, 2), (2, 2)), (4, 3))],
    ids=["book", "no pooling", "2x2 pooling"],
)
def test_logits_per_sample_and_batched(graph, kernels, pooling, hidden):
    rng = np.random.default_rng(0)
    model = ms.model.cnn((6, 5), 3, kernels=kernels, kernel_shape=(3, 3), pooling=pooling, hidden=hidden)
    for node in ms.core.get_trainable_variables_from_graph(graph=graph):
        node.set_value(rng.standard_normal(node.dim) * 0.5)
    images = rng.standard_normal((3, 6, 5))
    expected = np.array([numpy_cnn(image, graph, kernels, pooling, len(hidden)) for image in images])
    model.inputs[0].set_value(images)
    np.testing.assert_allclose(model.logits.forward()[:, :, 0], expected, rtol=1e-10)
    model.inputs[0].set_value(images[1])
    np.testing.assert_allclose(model.logits.forward()[:, 0], expected[1], rtol=1e-10)


def test_the_defaults_suit_8x8_digits(graph):
    model = ms.model.cnn((8, 8), 10)
    assert model.inputs[0].dim == (8, 8) and model.label.dim == (10, 1)
    convolutions = [node for node in graph.nodes if isinstance(node, ms.ops.Convolve)]
    assert len(convolutions) == 8  # one layer of 8 kernels on the one input map
    (flatten,) = [node for node in graph.nodes if node.name.startswith("Flatten/")]
    model.inputs[0].set_value(np.zeros((2, 8, 8)))
    assert flatten.forward().shape == (2, 8 * 4 * 4, 1)  # 8 maps of 4x4 after pooling
    assert [node.dim for node in trainable(graph, "Hidden1/")] == [(32, 128), (32, 1)]


def test_a_kernel_larger_than_its_maps_is_refused_before_building(graph):
    with pytest.raises(ValueError, match=r"cnn: kernel_shape \(3, 3\) is larger than the \(2, 2\) maps of Conv3"):
        ms.model.cnn((8, 8), 10, kernels=(2, 2, 2))  # 8x8 -> 4x4 -> 2x2 before the third
    assert graph.node_count() == 0
