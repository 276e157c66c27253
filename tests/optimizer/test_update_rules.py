"""Each optimizer follows its textbook formula, step after step.

The model is a least-squares fit, loss = sum((W x + b - y)^2) per sample, whose
mean gradient over a batch is written out here by hand; each rule is then
replayed in NumPy from its formula and compared with the engine after every
update. The hyperparameters are not the defaults, and epsilon is large enough
to tell "sqrt(s) + eps" from "sqrt(s + eps)".
"""

import numpy as np
import pytest

import matrixslow as ms
from matrixslow.core import Variable
from matrixslow.ops import Add, MatMul, Multiply, Sum

STEPS, BATCH = 4, 5


class LeastSquares:
    """The engine's model and the same model's gradient in NumPy."""

    def __init__(self, rng):
        self.x = Variable((3, 1), trainable=False, name="x")
        self.minus_y = Variable((2, 1), trainable=False, name="minus_y")
        self.w = Variable((2, 3), name="w")
        self.b = Variable((2, 1), name="b")
        self.w.set_value(rng.normal(size=(2, 3)))
        self.b.set_value(rng.normal(size=(2, 1)))
        error = Add(MatMul(self.w, self.x), self.b, self.minus_y)
        self.loss = Sum(Multiply(error, error))

    def feed(self, x, y):
        self.x.set_value(x)
        self.minus_y.set_value(-y)

    @staticmethod
    def mean_gradients(w, b, x, y):
        """Mean over the batch of d/dW and d/db of sum((W x + b - y)^2)."""
        error = np.einsum("ij,bjk->bik", w, x) + b - y  # (B, 2, 1)
        grad_w = 2.0 * np.einsum("bik,bjk->ij", error, x) / len(x)
        grad_b = 2.0 * error.sum(axis=0) / len(x)
        return grad_w, grad_b


def gradient_descent(lr):
    def step(param, grad, state, t):
        return param - lr * grad

    return step


def momentum(lr, beta):
    def step(param, grad, state, t):
        state["v"] = beta * state.get("v", 0.0) + lr * grad
        return param - state["v"]

    return step


def adagrad(lr, eps):
    def step(param, grad, state, t):
        state["s"] = state.get("s", 0.0) + grad**2
        return param - lr * grad / (np.sqrt(state["s"]) + eps)

    return step


def rmsprop(lr, beta, eps):
    def step(param, grad, state, t):
        state["s"] = beta * state.get("s", 0.0) + (1 - beta) * grad**2
        return param - lr * grad / (np.sqrt(state["s"]) + eps)

    return step


def adam(lr, beta_1, beta_2, eps, bias_correction=True, eps_root=0.0):
    def step(param, grad, state, t):
        state["m"] = beta_1 * state.get("m", 0.0) + (1 - beta_1) * grad
        state["v"] = beta_2 * state.get("v", 0.0) + (1 - beta_2) * grad**2
        m_hat, v_hat = state["m"], state["v"]
        if bias_correction:  # the book's Adam (bias_correction=False) uses the raw moments
            m_hat, v_hat = m_hat / (1 - beta_1**t), v_hat / (1 - beta_2**t)
        return param - lr * m_hat / (np.sqrt(v_hat + eps_root) + eps)

    return step


RULES = [
    pytest.param(ms.optimizer.GradientDescent, {"learning_rate": 0.05}, gradient_descent(0.05), id="GradientDescent"),
    pytest.param(ms.optimizer.Momentum, {"learning_rate": 0.05, "momentum": 0.7}, momentum(0.05, 0.7), id="Momentum"),
    pytest.param(ms.optimizer.AdaGrad, {"learning_rate": 0.3, "epsilon": 0.5}, adagrad(0.3, 0.5), id="AdaGrad"),
    pytest.param(
        ms.optimizer.RMSProp,
        {"learning_rate": 0.1, "beta": 0.8, "epsilon": 0.5},
        rmsprop(0.1, 0.8, 0.5),
        id="RMSProp",
    ),
    pytest.param(
        ms.optimizer.Adam,
        {"learning_rate": 0.1, "beta_1": 0.8, "beta_2": 0.95, "epsilon": 0.5},
        adam(0.1, 0.8, 0.95, 0.5),
        id="Adam",
    ),
    pytest.param(
        ms.optimizer.Adam,
        {"learning_rate": 0.1, "beta_1": 0.8, "beta_2": 0.95, "epsilon": 0.5, "bias_correction": False},
        adam(0.1, 0.8, 0.95, 0.5, bias_correction=False),
        id="Adam-uncorrected",
    ),
    pytest.param(
        ms.optimizer.Adam,
        {"learning_rate": 0.1, "epsilon": 0.5, "epsilon_root": 0.25},
        adam(0.1, 0.9, 0.99, 0.5, eps_root=0.25),
        id="Adam-epsilon-root",
    ),
    pytest.param(
        ms.optimizer.Adam,
        {"learning_rate": 0.1, **ms.optimizer.BOOK_ADAM},
        adam(0.1, 0.9, 0.99, 0.0, bias_correction=False, eps_root=1e-10),
        id="Adam-book",
    ),
    pytest.param(ms.optimizer.Momentum, {"learning_rate": 0.05}, momentum(0.05, 0.9), id="Momentum-defaults"),
    pytest.param(ms.optimizer.AdaGrad, {"learning_rate": 0.3}, adagrad(0.3, 1e-10), id="AdaGrad-defaults"),
    pytest.param(ms.optimizer.RMSProp, {"learning_rate": 0.1}, rmsprop(0.1, 0.9, 1e-10), id="RMSProp-defaults"),
    pytest.param(ms.optimizer.Adam, {"learning_rate": 0.1}, adam(0.1, 0.9, 0.99, 1e-8), id="Adam-defaults"),
]


@pytest.mark.parametrize(("optimizer_type", "settings", "rule"), RULES)
def test_each_update_follows_the_formula(graph, optimizer_type, settings, rule):
    rng = np.random.default_rng(4)
    model = LeastSquares(rng)
    optimizer = optimizer_type(graph, model.loss, **settings)
    w, b = model.w.value.copy(), model.b.value.copy()
    states = {"w": {}, "b": {}}
    for t in range(1, STEPS + 1):
        x, y = rng.normal(size=(BATCH, 3, 1)), rng.normal(size=(BATCH, 2, 1))
        model.feed(x, y)
        optimizer.one_step()
        optimizer.update()
        grad_w, grad_b = LeastSquares.mean_gradients(w, b, x, y)
        w, b = rule(w, grad_w, states["w"], t), rule(b, grad_b, states["b"], t)
        np.testing.assert_allclose(model.w.value, w, rtol=1e-10, atol=1e-12, err_msg=f"W after update {t}")
        np.testing.assert_allclose(model.b.value, b, rtol=1e-10, atol=1e-12, err_msg=f"b after update {t}")


def test_adam_counts_updates_not_one_steps(graph):
    """Two one_step calls then one update is one Adam step (t = 1, 2, 3) with the mean over both batches."""
    rng = np.random.default_rng(5)
    model = LeastSquares(rng)
    optimizer = ms.optimizer.Adam(graph, model.loss, learning_rate=0.1, epsilon=0.5)
    rule = adam(0.1, 0.9, 0.99, 0.5)
    w, b = model.w.value.copy(), model.b.value.copy()
    states = {"w": {}, "b": {}}
    for t in (1, 2, 3):
        x, y = rng.normal(size=(6, 3, 1)), rng.normal(size=(6, 2, 1))
        model.feed(x[:2], y[:2])
        optimizer.one_step()
        model.feed(x[2:], y[2:])
        optimizer.one_step()
        optimizer.update()
        grad_w, grad_b = LeastSquares.mean_gradients(w, b, x, y)
        w, b = rule(w, grad_w, states["w"], t), rule(b, grad_b, states["b"], t)
        np.testing.assert_allclose(model.w.value, w, rtol=1e-10)
        np.testing.assert_allclose(model.b.value, b, rtol=1e-10)
