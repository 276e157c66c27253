"""The optimizer's bookkeeping: accumulate gradient sums over samples, update with their mean."""

import numpy as np
import pytest

import matrixslow as ms
from matrixslow.core import Graph, GraphError, ShapeError, Variable
from matrixslow.ops import MatMul, Sum


@pytest.fixture
def linear(graph):
    """loss = sum(W x): per sample, d loss / dW = ones x^T."""
    x = Variable((3, 1), trainable=False, name="x")
    w = Variable((2, 3), name="w")
    w.set_value(np.arange(6.0).reshape(2, 3))
    frozen = Variable((2, 3), trainable=False, name="frozen")
    return x, w, frozen, Sum(MatMul(w, x))


def _grad(x):
    """d sum(W x) / dW for one sample x."""
    return np.ones((2, 1)) @ x.T


class TestAccumulation:
    def test_acc_no_counts_samples_and_a_batch_counts_each(self, graph, linear):
        x, w, _, loss = linear
        optimizer = ms.optimizer.GradientDescent(graph, loss, 0.1)
        x.set_value(np.ones((3, 1)))
        optimizer.one_step()
        assert optimizer.acc_no == 1
        x.set_value(np.ones((4, 3, 1)))
        optimizer.one_step()
        assert optimizer.acc_no == 5

    def test_the_accumulated_gradient_is_the_sum_and_get_gradient_the_mean(self, graph, linear):
        x, w, _, loss = linear
        optimizer = ms.optimizer.GradientDescent(graph, loss, 0.1)
        samples = np.random.default_rng(0).normal(size=(5, 3, 1))
        x.set_value(samples[0])
        optimizer.one_step()
        x.set_value(samples[1:])
        optimizer.one_step()
        total = sum(_grad(sample) for sample in samples)
        np.testing.assert_allclose(optimizer.acc_gradient[w], total, rtol=1e-12)
        np.testing.assert_allclose(optimizer.get_gradient(w), total / 5, rtol=1e-12)
        assert set(optimizer.acc_gradient) == {w}, "only trainable variables are accumulated"

    def test_update_moves_by_the_mean_and_starts_afresh(self, graph, linear):
        x, w, _, loss = linear
        optimizer = ms.optimizer.GradientDescent(graph, loss, 0.1)
        before = w.value.copy()
        samples = np.random.default_rng(1).normal(size=(3, 3, 1))
        x.set_value(samples)
        optimizer.one_step()
        optimizer.update()
        mean = sum(_grad(sample) for sample in samples) / 3
        np.testing.assert_allclose(w.value, before - 0.1 * mean, rtol=1e-12)
        assert optimizer.acc_no == 0 and optimizer.acc_gradient == {}

    def test_update_with_nothing_accumulated_is_an_error(self, graph, linear):
        *_, loss = linear
        optimizer = ms.optimizer.Adam(graph, loss, 0.1)
        with pytest.raises(GraphError, match=r"Adam.update\(\): no gradients accumulated; call one_step\(\) first"):
            optimizer.update()

    def test_a_fresh_one_step_does_not_see_the_previous_update_gradients(self, graph, linear):
        x, w, _, loss = linear
        optimizer = ms.optimizer.GradientDescent(graph, loss, 0.1)
        x.set_value(np.ones((3, 1)))
        optimizer.one_step()
        optimizer.update()
        x.set_value(np.full((3, 1), 2.0))
        optimizer.one_step()
        np.testing.assert_allclose(optimizer.acc_gradient[w], _grad(np.full((3, 1), 2.0)))


class TestApplyGradients:
    def test_without_summarize_the_gradient_replaces_and_is_taken_as_the_mean(self, graph, linear):
        x, w, _, loss = linear
        optimizer = ms.optimizer.GradientDescent(graph, loss, 0.5)
        x.set_value(np.ones((4, 3, 1)))
        optimizer.one_step()
        before = w.value.copy()
        given = np.full((2, 3), 2.0)
        optimizer.apply_gradients({w: given})
        assert optimizer.acc_no == 1
        optimizer.update()
        np.testing.assert_allclose(w.value, before - 0.5 * given)

    def test_without_summarize_but_with_acc_no_the_gradient_is_a_sum_over_that_many_samples(self, graph, linear):
        # The book's rule: the gradient replaces the accumulated one and acc_no becomes the count given.
        x, w, _, loss = linear
        optimizer = ms.optimizer.GradientDescent(graph, loss, 0.5)
        before = w.value.copy()
        optimizer.apply_gradients({w: np.full((2, 3), 8.0)}, acc_no=4)
        assert optimizer.acc_no == 4
        optimizer.update()
        np.testing.assert_allclose(w.value, before - 0.5 * 2.0)

    def test_with_summarize_the_gradient_sums_are_added_and_counted(self, graph, linear):
        x, w, _, loss = linear
        optimizer = ms.optimizer.GradientDescent(graph, loss, 0.5)
        samples = np.random.default_rng(2).normal(size=(3, 3, 1))
        x.set_value(samples)
        optimizer.one_step()
        other_workers = np.full((2, 3), 7.0)  # a sum over 2 samples from elsewhere
        optimizer.apply_gradients({"w": other_workers}, summarize=True, acc_no=2)
        assert optimizer.acc_no == 5
        expected = (sum(_grad(sample) for sample in samples) + other_workers) / 5
        np.testing.assert_allclose(optimizer.get_gradient(w), expected, rtol=1e-12)

    def test_with_summarize_on_an_empty_optimizer(self, graph, linear):
        x, w, _, loss = linear
        optimizer = ms.optimizer.GradientDescent(graph, loss, 1.0)
        before = w.value.copy()
        optimizer.apply_gradients({w: np.full((2, 3), 6.0)}, summarize=True, acc_no=3)
        optimizer.apply_gradients({w: np.full((2, 3), 3.0)}, summarize=True, acc_no=3)
        optimizer.update()
        np.testing.assert_allclose(w.value, before - 1.5)

    def test_update_takes_mean_gradients_directly(self, graph, linear):
        x, w, _, loss = linear
        optimizer = ms.optimizer.GradientDescent(graph, loss, 0.5)
        before = w.value.copy()
        optimizer.update({"w": np.ones((2, 3))})
        np.testing.assert_allclose(w.value, before - 0.5)

    def test_summarize_needs_a_positive_sample_count(self, graph, linear):
        *_, loss = linear
        optimizer = ms.optimizer.GradientDescent(graph, loss, 0.5)
        with pytest.raises(ValueError, match="needs the positive sample count acc_no"):
            optimizer.apply_gradients({"w": np.ones((2, 3))}, summarize=True)
        with pytest.raises(ValueError, match="acc_no must be a positive sample count, got 0"):
            optimizer.apply_gradients({"w": np.ones((2, 3))}, summarize=True, acc_no=0)

    def test_gradients_are_checked_before_any_is_applied(self, graph, linear):
        x, w, frozen, loss = linear
        optimizer = ms.optimizer.GradientDescent(graph, loss, 0.5)
        with pytest.raises(ShapeError, match=r"gradient for Variable 'w' has shape \(3, 2\), expected \(2, 3\)"):
            optimizer.apply_gradients({"w": np.ones((3, 2))})
        with pytest.raises(GraphError, match="no node named 'nothing' in the graph"):
            optimizer.apply_gradients({"w": np.ones((2, 3)), "nothing": np.ones((2, 3))})
        with pytest.raises(GraphError, match="Variable 'frozen' is not a trainable Variable"):
            optimizer.apply_gradients({w: np.ones((2, 3)), frozen: np.ones((2, 3))})
        assert optimizer.acc_gradient == {} and optimizer.acc_no == 0


class TestConstruction:
    def test_the_graph_must_hold_the_target(self, graph, linear):
        *_, loss = linear
        with pytest.raises(GraphError, match=r"Adam: target Sum 'Sum:4' belongs to another graph than the one given"):
            ms.optimizer.Adam(Graph(), loss, 0.1)

    def test_the_graph_and_the_target_have_the_right_types(self, graph, linear):
        *_, loss = linear
        with pytest.raises(TypeError, match="Momentum: graph must be a Graph, got str"):
            ms.optimizer.Momentum("graph", loss)
        with pytest.raises(TypeError, match="Momentum: target must be a Node, got ndarray"):
            ms.optimizer.Momentum(graph, np.ones(1))

    @pytest.mark.parametrize(
        ("optimizer_type", "settings", "field"),
        [
            (ms.optimizer.GradientDescent, {"learning_rate": -0.1}, "learning_rate must be positive"),
            (ms.optimizer.GradientDescent, {"learning_rate": 0.0}, "learning_rate must be positive"),
            (ms.optimizer.Momentum, {"momentum": 1.0}, "momentum must be between 0 and 1"),
            (ms.optimizer.Momentum, {"momentum": -0.5}, "momentum must be between 0 and 1"),
            (ms.optimizer.AdaGrad, {"epsilon": -1e-8}, "epsilon must be positive"),
            (ms.optimizer.RMSProp, {"beta": 0.0}, "beta must be between 0 and 1"),
            (ms.optimizer.RMSProp, {"beta": 1.2}, "beta must be between 0 and 1"),
            (ms.optimizer.Adam, {"beta_1": 1.0}, "beta_1 must be between 0 and 1"),
            (ms.optimizer.Adam, {"beta_2": -0.9}, "beta_2 must be between 0 and 1"),
            (ms.optimizer.Adam, {"learning_rate": -1}, "learning_rate must be positive"),
            (ms.optimizer.Adam, {"epsilon": 0.0}, "epsilon and epsilon_root must be non-negative and not both zero"),
            (
                ms.optimizer.Adam,
                {"epsilon_root": -1e-10},
                "epsilon and epsilon_root must be non-negative and not both zero",
            ),
        ],
    )
    def test_bad_hyperparameters_are_named(self, graph, linear, optimizer_type, settings, field):
        *_, loss = linear
        with pytest.raises(ValueError, match=rf"^{optimizer_type.__name__}: {field}, got"):
            optimizer_type(graph, loss, **settings)
