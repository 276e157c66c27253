"""Optimizer state: what a checkpoint saves lets a fresh optimizer carry on exactly where the old one was."""

import numpy as np
import pytest

import matrixslow as ms
from matrixslow.core.errors import GraphError, ShapeError

from .test_update_rules import LeastSquares

KINDS = {
    ms.optimizer.GradientDescent: (),
    ms.optimizer.Momentum: ("v/w", "v/b"),
    ms.optimizer.AdaGrad: ("s/w", "s/b"),
    ms.optimizer.RMSProp: ("s/w", "s/b"),
    ms.optimizer.Adam: ("v/w", "v/b", "s/w", "s/b", "#t"),
}


def build(kind, seed=0):
    graph = ms.core.Graph()
    with graph:
        model = LeastSquares(np.random.default_rng(seed))
    return graph, model, kind(graph, model.loss, learning_rate=0.05)


def train(model, optimizer, batches):
    for x, y in batches:
        model.feed(x, y)
        optimizer.one_step()
        optimizer.update()


def batches(count, seed):
    rng = np.random.default_rng(seed)
    return [(rng.normal(size=(4, 3, 1)), rng.normal(size=(4, 2, 1))) for _ in range(count)]


@pytest.mark.parametrize("kind", list(KINDS), ids=lambda kind: kind.__name__)
def test_a_fresh_optimizer_loaded_with_the_state_continues_exactly(kind):
    first, second = batches(3, seed=1), batches(3, seed=2)
    _, unbroken_model, unbroken = build(kind)
    train(unbroken_model, unbroken, first + second)

    _, model, optimizer = build(kind)
    train(model, optimizer, first)
    state = optimizer.state_arrays()
    assert sorted(state) == sorted(KINDS[kind])
    weights = {"w": model.w.value.copy(), "b": model.b.value.copy()}

    _, resumed_model, resumed = build(kind, seed=7)  # other initial weights: the checkpoint's replace them
    resumed_model.w.set_value(weights["w"])
    resumed_model.b.set_value(weights["b"])
    resumed.load_state_arrays(state)
    train(resumed_model, resumed, second)
    np.testing.assert_array_equal(resumed_model.w.value, unbroken_model.w.value)
    np.testing.assert_array_equal(resumed_model.b.value, unbroken_model.b.value)


def test_state_before_any_update_is_zeros_and_step_0():
    _, model, adam = build(ms.optimizer.Adam)
    state = adam.state_arrays()
    assert state["#t"].tolist() == [0]
    np.testing.assert_array_equal(state["v/w"], np.zeros((2, 3)))
    assert state["s/b"].dtype == model.b.value.dtype


def test_state_of_another_optimizer_or_shape_is_refused_naming_what_differs():
    _, _, adam = build(ms.optimizer.Adam)
    _, _, momentum = build(ms.optimizer.Momentum)
    with pytest.raises(GraphError, match=r"Momentum: the optimizer state does not fit .*unexpected \['#t', 's/b'"):
        momentum.load_state_arrays(adam.state_arrays())
    state = momentum.state_arrays()
    state["v/w"] = np.zeros((3, 2))
    with pytest.raises(ShapeError, match=r"optimizer state 'v/w' has shape \(3, 2\), expected \(2, 3\)"):
        momentum.load_state_arrays(state)
