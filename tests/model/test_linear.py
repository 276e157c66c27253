"""The linear models and the MLP against forward passes written in NumPy from their definitions."""

import numpy as np

import matrixslow as ms
from tests.model.cases import leaky_relu, log_loss, sigmoid, trainable

RNG = np.random.default_rng(7)
X = RNG.standard_normal((5, 3))


def _affine_with_random_bias(graph):
    weights, bias = trainable(graph, "Linear/")
    bias.set_value(RNG.standard_normal(bias.dim))
    return X @ weights.value.T + bias.value.T  # (5, size): one row per sample


def _set(model, x, labels):
    model.inputs[0].set_value(x[:, :, None])
    model.label.set_value(labels)


def test_logistic_regression(graph):
    model = ms.model.logistic_regression(3)
    z = _affine_with_random_bias(graph)[:, 0]
    labels = np.array([0.0, 1.0, 1.0, 0.0, 1.0])
    _set(model, X, labels[:, None, None])
    np.testing.assert_allclose(model.predict.forward()[:, 0, 0], sigmoid(z), rtol=1e-12)
    np.testing.assert_allclose(model.loss.forward()[:, 0, 0], log_loss(z, labels), rtol=1e-12)


def test_softmax_regression(graph):
    model = ms.model.softmax_regression(3, 4)
    z = _affine_with_random_bias(graph)
    classes = np.array([0, 3, 1, 2, 3])
    _set(model, X, np.eye(4)[classes][:, :, None])
    probabilities = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(model.predict.forward()[:, :, 0], probabilities, rtol=1e-12)
    np.testing.assert_allclose(model.loss.forward()[:, 0, 0], -np.log(probabilities[range(5), classes]), rtol=1e-12)


def test_perceptron_loss_is_the_margin_of_the_misclassified_and_predict_is_the_step(graph):
    model = ms.model.perceptron(3)
    z = _affine_with_random_bias(graph)[:, 0]
    labels = np.array([1.0, -1.0, 1.0, -1.0, 1.0])
    _set(model, X, labels[:, None, None])
    np.testing.assert_allclose(model.loss.forward()[:, 0, 0], np.maximum(0.0, -labels * z), rtol=1e-12)
    np.testing.assert_array_equal(model.predict.forward()[:, 0, 0], (z >= 0).astype(float))


def test_linear_regression(graph):
    model = ms.model.linear_regression(3)
    z = _affine_with_random_bias(graph)[:, 0]
    targets = RNG.standard_normal(5)
    _set(model, X, targets[:, None, None])
    np.testing.assert_allclose(model.predict.forward()[:, 0, 0], z, rtol=1e-12)
    np.testing.assert_allclose(model.loss.forward()[:, 0, 0], (z - targets) ** 2, rtol=1e-12)


def test_dnn_is_a_stack_of_fc_layers(graph):
    model = ms.model.dnn(3, [4, 5], 2, activation="Tanh")
    layers = [trainable(graph, scope) for scope in ("Hidden1/", "Hidden2/", "Output/")]
    assert [[node.dim for node in layer] for layer in layers] == [[(4, 3), (4, 1)], [(5, 4), (5, 1)], [(2, 5), (2, 1)]]
    h = X
    for index, (weights, bias) in enumerate(layers):
        bias.set_value(RNG.standard_normal(bias.dim))
        h = h @ weights.value.T + bias.value.T
        if index < 2:
            h = np.tanh(h)
    _set(model, X, np.eye(2)[[0, 1, 1, 0, 0]][:, :, None])
    np.testing.assert_allclose(model.logits.forward()[:, :, 0], h, rtol=1e-12)


def test_dnn_uses_the_leaky_relu_by_default_and_no_hidden_layer_is_softmax_regression(graph):
    model = ms.model.dnn(3, [2], 2)
    (w1, b1), (w2, b2) = trainable(graph, "Hidden1/"), trainable(graph, "Output/")
    model.inputs[0].set_value(X[:, :, None])
    expected = leaky_relu(X @ w1.value.T + b1.value.T) @ w2.value.T + b2.value.T
    np.testing.assert_allclose(model.logits.forward()[:, :, 0], expected, rtol=1e-12)
    with ms.core.Graph() as other:
        ms.model.dnn(3, [], 2)
        assert [node.dim for node in trainable(other, "")] == [(2, 3), (2, 1)]
