"""The unrolled Elman RNN against NumPy, and welding: a length-L sequence in a T-step graph."""

import numpy as np
import pytest

import matrixslow as ms
from matrixslow.core import GraphError
from tests.model.cases import leaky_relu, set_data, trainable


def elman(x, u, w, b, activation):
    """h_t = act(W h_{t-1} + U x_t + b) from h_0 = 0; x is (N, T, features); returns the last h, (N, hidden)."""
    h = np.zeros((x.shape[0], u.shape[0]))
    for step in range(x.shape[1]):
        h = activation(h @ w.T + x[:, step] @ u.T + b.T)
    return h


def _randomise(graph, rng):
    for node in ms.core.get_trainable_variables_from_graph(graph=graph):
        node.set_value(rng.standard_normal(node.dim) * 0.5)
    return [graph.get(name).value for name in ("RNN/U", "RNN/W", "RNN/b")] + [
        node.value for node in trainable(graph, "Output/")
    ]


@pytest.mark.parametrize(("activation", "function"), [("ReLU", leaky_relu), ("Tanh", np.tanh)])
def test_logits_are_the_output_layer_on_the_last_hidden_state(graph, activation, function):
    rng = np.random.default_rng(0)
    model = ms.model.rnn(5, 3, 4, 2, activation=activation)
    u, w, b, out_w, out_b = _randomise(graph, rng)
    assert (u.shape, w.shape, b.shape, out_w.shape) == ((4, 3), (4, 4), (4, 1), (2, 4))
    x = rng.standard_normal((6, 5, 3))
    set_data(graph, model, x, np.eye(2)[rng.integers(0, 2, 6)][:, :, None])
    expected = elman(x, u, w, b, function) @ out_w.T + out_b.T
    np.testing.assert_allclose(model.logits.forward()[:, :, 0], expected, rtol=1e-10)
    assert len(model.hiddens) == 5 and [node.name for node in model.inputs] == [f"x_{t}" for t in range(5)]
    for step, node in enumerate(model.inputs):  # per sample: the first sample alone
        node.set_value(x[0, step][:, None])
    np.testing.assert_allclose(model.logits.forward()[:, 0], expected[0], rtol=1e-10)


def test_welded_to_step_l_it_equals_a_graph_unrolled_over_exactly_l_steps():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((4, 5, 2))
    labels = np.eye(3)[[0, 2, 1, 1]][:, :, None]
    with ms.core.Graph() as long_graph:
        welded = ms.model.rnn(5, 2, 4, 3, welding=True)
    with ms.core.Graph() as short_graph:
        short = ms.model.rnn(3, 2, 4, 3)
    long_weights = ms.core.get_trainable_variables_from_graph(graph=long_graph)
    short_weights = ms.core.get_trainable_variables_from_graph(graph=short_graph)
    # The same weights, in the same order: RNN/U, RNN/W, RNN/b, then the output layer's.
    assert [node.dim for node in long_weights] == [node.dim for node in short_weights]
    assert [node.name for node in long_weights[:3]] == ["RNN/U", "RNN/W", "RNN/b"]
    for long_node, short_node in zip(long_weights, short_weights, strict=True):
        value = rng.standard_normal(long_node.dim)
        long_node.set_value(value)
        short_node.set_value(value)

    welded.set_length(3)
    assert welded.length == 3
    set_data(long_graph, welded, x, labels)  # steps 3 and 4 hold data the output must ignore
    set_data(short_graph, short, x[:, :3], labels)
    np.testing.assert_allclose(welded.predict.forward(), short.predict.forward(), rtol=1e-12)
    np.testing.assert_allclose(welded.loss.forward(), short.loss.forward(), rtol=1e-12)
    long_grads = ms.core.backward(welded.loss, wrt=long_weights)
    short_grads = ms.core.backward(short.loss, wrt=short_weights)
    for long_node, short_node in zip(long_weights, short_weights, strict=True):
        np.testing.assert_allclose(long_grads[long_node], short_grads[short_node], rtol=1e-12)

    # Per sample, a sequence of length 2 fills the first two step inputs only.
    welded.set_length(2)
    for step in range(2):
        welded.inputs[step].set_value(x[1, step][:, None])
    u, w, b, out_w, out_b = (node.value for node in long_weights)
    expected = elman(x[1:2, :2], u, w, b, leaky_relu) @ out_w.T + out_b.T
    np.testing.assert_allclose(welded.logits.forward()[:, 0], expected[0], rtol=1e-10)


def test_a_welded_rnn_starts_at_the_full_length(graph):
    model = ms.model.rnn(4, 2, 3, 2, welding=True)
    assert model.length == 4
    assert model.welding.parents == [model.hiddens[-1]]
    assert model.welding.name == "Output/last_hidden"


def test_set_length_checks_its_length_and_needs_welding(graph):
    model = ms.model.rnn(4, 2, 3, 2, welding=True)
    for bad in (0, 5, 2.0, True):
        with pytest.raises(ValueError, match=r"rnn: length must be an int from 1 to 4"):
            model.set_length(bad)
    assert model.length == 4
    with ms.core.Graph():
        plain = ms.model.rnn(3, 2, 3, 2)
    assert plain.welding is None
    with pytest.raises(GraphError, match="rnn: set_length needs a model built with welding=True"):
        plain.set_length(2)


def test_the_weights_are_shared_by_every_step(graph):
    model = ms.model.rnn(6, 2, 3, 2)
    rnn_weights = trainable(graph, "RNN/")
    assert [node.name for node in rnn_weights] == ["RNN/U", "RNN/W", "RNN/b"]
    # U reaches every step, W every step after the first (h_0 = 0 needs no W h term).
    assert (len(graph.get("RNN/U").children), len(graph.get("RNN/W").children)) == (6, 5)
    assert len(model.hiddens) == 6
