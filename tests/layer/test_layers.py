"""The book's layers: fc, conv and pooling, built from operators, per sample and batched."""

import numpy as np
import pytest

import matrixslow as ms
from matrixslow.core import Variable
from tests.ops.cases import correlate_same, max_pool


def _input(shape, value):
    node = Variable(shape, trainable=False)
    node.set_value(value)
    return node


def _leaky_relu(z):
    return np.where(z > 0, z, 0.1 * z)


class TestFullyConnected:
    def test_weights_then_bias_drawn_from_the_books_normal(self, graph):
        x = _input((4, 1), np.ones((4, 1)))
        np.random.seed(5)
        ms.layer.fc(x, 4, 10, "ReLU")
        weights, bias = ms.core.get_trainable_variables_from_graph()
        np.random.seed(5)
        np.testing.assert_array_equal(weights.value, np.random.normal(0, 0.001, (10, 4)))
        np.testing.assert_array_equal(bias.value, np.random.normal(0, 0.001, (10, 1)))

    def test_the_zoo_initialisation_by_keyword(self, graph):
        x = _input((4, 1), np.ones((4, 1)))
        ms.layer.fc(x, 4, 300, "ReLU", weights_init="glorot", bias_init="zeros")
        weights, bias = ms.core.get_trainable_variables_from_graph()
        assert abs(weights.value.std() - np.sqrt(2.0 / 304)) < 0.05 * np.sqrt(2.0 / 304)
        np.testing.assert_array_equal(bias.value, np.zeros((300, 1)))

    @pytest.mark.parametrize(
        ("activation", "function"),
        [
            ("ReLU", _leaky_relu),
            ("Logistic", lambda z: 1.0 / (1.0 + np.exp(-z))),
            ("Tanh", np.tanh),
            (None, lambda z: z),
            ("None", lambda z: z),
        ],
    )
    def test_computes_the_activation_of_w_x_plus_b(self, graph, activation, function):
        rng = np.random.default_rng(0)
        x = _input((4, 1), rng.normal(size=(4, 1)))
        out = ms.layer.fc(x, 4, 3, activation)
        weights, bias = ms.core.get_trainable_variables_from_graph()
        bias.set_value(rng.normal(size=(3, 1)))
        np.testing.assert_allclose(out.forward(), function(weights.value @ x.value + bias.value), rtol=1e-12)

    def test_output_shapes_per_sample_and_batched(self, graph):
        x = _input((4, 1), np.ones((4, 1)))
        out = ms.layer.fc(ms.layer.fc(x, 4, 10, "ReLU"), 10, 3, None)
        assert out.forward().shape == (3, 1)
        x.set_value(np.ones((7, 4, 1)))
        assert out.forward().shape == (7, 3, 1)

    def test_an_unknown_activation_is_named_and_builds_nothing(self, graph):
        x = _input((4, 1), np.ones((4, 1)))
        message = r"unknown activation 'relu'; expected one of \['Logistic', 'ReLU', 'Tanh'\] or None"
        with pytest.raises(ValueError, match=message):
            ms.layer.fc(x, 4, 10, "relu")
        assert graph.node_count() == 1


class TestConvolution:
    def test_gives_one_map_of_the_input_shape_per_kernel(self, graph):
        x = _input((6, 5), np.ones((6, 5)))
        maps = ms.layer.conv([x], (6, 5), 4, (3, 3), "ReLU")
        assert len(maps) == 4
        assert all(feature_map.forward().shape == (6, 5) for feature_map in maps)
        x.set_value(np.ones((3, 6, 5)))
        assert all(feature_map.forward().shape == (3, 6, 5) for feature_map in maps)

    def test_each_map_sums_its_kernels_over_the_input_maps_plus_a_bias(self, graph):
        rng = np.random.default_rng(1)
        inputs = [_input((5, 5), rng.normal(size=(5, 5))) for _ in range(2)]
        maps = ms.layer.conv(inputs, (5, 5), 3, (3, 3), None)
        trainables = ms.core.get_trainable_variables_from_graph()
        assert len(trainables) == 3 * (2 + 1)  # per output map: one kernel per input map, one bias
        for index, feature_map in enumerate(maps):
            first_kernel, second_kernel, bias = trainables[3 * index : 3 * index + 3]
            assert first_kernel.value.shape == (3, 3) and bias.value.shape == (1, 1)
            bias.set_value(np.array([[0.5 * index]]))
            expected = (
                correlate_same(inputs[0].value, first_kernel.value)
                + correlate_same(inputs[1].value, second_kernel.value)
                + 0.5 * index
            )
            np.testing.assert_allclose(feature_map.forward(), expected, rtol=1e-12)

    def test_kernels_and_biases_drawn_from_the_books_normal_in_the_books_order(self, graph):
        inputs = [_input((5, 5), np.ones((5, 5))) for _ in range(2)]
        np.random.seed(2)
        ms.layer.conv(inputs, (5, 5), 2, (3, 3), None)
        np.random.seed(2)
        for variable in ms.core.get_trainable_variables_from_graph():  # kernel, kernel, bias; kernel, kernel, bias
            np.testing.assert_array_equal(variable.value, np.random.normal(0, 0.001, variable.dim))

    def test_an_unknown_activation_builds_nothing(self, graph):
        x = _input((4, 4), np.ones((4, 4)))
        with pytest.raises(ValueError, match="unknown activation 'Sigmoid'"):
            ms.layer.conv([x], (4, 4), 2, (3, 3), "Sigmoid")
        assert graph.node_count() == 1


class TestPooling:
    def test_pools_every_map(self, graph):
        rng = np.random.default_rng(2)
        maps = [_input((6, 7), rng.normal(size=(6, 7))) for _ in range(3)]
        pooled = ms.layer.pooling(maps, (3, 3), (2, 2))
        assert len(pooled) == 3
        for source, result in zip(maps, pooled, strict=True):
            np.testing.assert_array_equal(result.forward(), max_pool(source.value, (3, 3), (2, 2)))
            assert result.value.shape == (3, 4)

    def test_batched_pooling_keeps_the_batch(self, graph):
        x = _input((6, 7), np.zeros((5, 6, 7)))
        (pooled,) = ms.layer.pooling([x], (2, 2), (2, 2))
        assert pooled.forward().shape == (5, 3, 4)


def test_the_books_chapter_8_network_builds_and_runs(graph):
    """The CNN of the book's chapter 8, written as the book writes it, on 28x28 images."""
    x = ms.core.Variable((28, 28), init=False, trainable=False)
    one_hot = ms.core.Variable(dim=(10, 1), init=False, trainable=False)
    conv1 = ms.layer.conv([x], (28, 28), 3, (5, 5), "ReLU")
    pooling1 = ms.layer.pooling(conv1, (3, 3), (2, 2))
    conv2 = ms.layer.conv(pooling1, (14, 14), 3, (3, 3), "ReLU")
    pooling2 = ms.layer.pooling(conv2, (3, 3), (2, 2))
    fc1 = ms.layer.fc(ms.ops.Concat(*pooling2), 147, 120, "ReLU")
    output = ms.layer.fc(fc1, 120, 10, "None")
    predict = ms.ops.SoftMax(output)
    loss = ms.ops.loss.CrossEntropyWithSoftMax(output, one_hot)
    optimizer = ms.optimizer.Adam(graph, loss, 0.005)

    rng = np.random.default_rng(3)
    x.set_value(rng.uniform(size=(28, 28)))
    one_hot.set_value(np.eye(10)[:, [4]])
    assert [m.forward().shape for m in pooling1] == [(14, 14)] * 3
    assert [m.forward().shape for m in pooling2] == [(7, 7)] * 3
    assert predict.forward().shape == (10, 1)
    np.testing.assert_allclose(predict.value.sum(), 1.0)

    x.set_value(rng.uniform(size=(4, 28, 28)))
    one_hot.set_value(np.eye(10)[[1, 2, 3, 4]][:, :, None])
    optimizer.one_step()
    assert loss.value.shape == (4, 1, 1)
    assert optimizer.acc_no == 4
    kernel = ms.core.get_trainable_variables_from_graph()[0]
    before = kernel.value.copy()
    optimizer.update()
    assert not np.array_equal(kernel.value, before), "the first kernel must have been trained"
