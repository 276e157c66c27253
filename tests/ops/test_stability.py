"""Huge logits give finite values and gradients, with no overflow, no division by zero, no log(0).

Underflow is allowed: e^-10000 rounding to 0 is the right answer in floating point.
"""

import numpy as np
import pytest

import matrixslow as ms
from matrixslow.core import Graph, Variable
from matrixslow.ops import Logistic, SoftMax
from matrixslow.ops.loss import CrossEntropyWithSoftMax, LogLoss

pytestmark = [
    pytest.mark.filterwarnings("error"),
    pytest.mark.parametrize("dtype", [np.float64, np.float32]),
]

HUGE = 1e4


@pytest.fixture(autouse=True)
def _floating_point_errors_raise():
    with np.errstate(over="raise", divide="raise", invalid="raise", under="ignore"):
        yield


def _input(value, trainable=True):
    node = Variable(np.shape(value)[-2:], trainable=trainable)
    node.set_value(value)
    return node


def _value_and_gradient(result, node):
    value = result.forward()
    grad = ms.core.backward(result, wrt=[node])[node]
    assert np.all(np.isfinite(value)), value
    assert np.all(np.isfinite(grad)), grad
    return value, grad


def test_logistic_saturates_to_exactly_zero_and_one(dtype):
    with Graph(dtype=dtype):
        x = _input(np.array([[HUGE], [-HUGE], [0.0]]))
        value, grad = _value_and_gradient(Logistic(x), x)
    np.testing.assert_array_equal(value, [[1.0], [0.0], [0.5]])
    np.testing.assert_array_equal(grad, [[0.0], [0.0], [0.25]])


def test_softmax_of_huge_logits_is_one_hot(dtype):
    with Graph(dtype=dtype):
        x = _input(np.array([[HUGE], [-HUGE], [0.0]]))
        seed = np.array([[1.0], [2.0], [3.0]])
        result = SoftMax(x)
        value = result.forward()
        grad = ms.core.backward(result, wrt=[x], seed=seed)[x]
    np.testing.assert_array_equal(value, [[1.0], [0.0], [0.0]])
    assert np.all(np.isfinite(grad))


def test_cross_entropy_of_a_confidently_wrong_prediction_is_large_but_finite(dtype):
    with Graph(dtype=dtype):
        logits = _input(np.array([[HUGE], [-HUGE], [0.0]]))
        labels = _input(np.array([[0.0], [1.0], [0.0]]), trainable=False)
        value, grad = _value_and_gradient(CrossEntropyWithSoftMax(logits, labels), logits)
    # -log softmax_1 = logsumexp(x) - x_1 = 1e4 + 1e4 (the other terms vanish).
    np.testing.assert_allclose(value, [[2 * HUGE]], rtol=1e-6)
    np.testing.assert_allclose(grad, [[1.0], [-1.0], [0.0]], atol=1e-6)


def test_cross_entropy_of_a_confidently_right_prediction_is_zero(dtype):
    with Graph(dtype=dtype):
        logits = _input(np.array([[HUGE], [-HUGE], [0.0]]))
        labels = _input(np.array([[1.0], [0.0], [0.0]]), trainable=False)
        value, grad = _value_and_gradient(CrossEntropyWithSoftMax(logits, labels), logits)
    np.testing.assert_allclose(value, [[0.0]], atol=1e-6)
    np.testing.assert_allclose(grad, np.zeros((3, 1)), atol=1e-6)


def test_book_log_loss_is_linear_for_huge_negative_margins(dtype):
    with Graph(dtype=dtype):
        x = _input(np.array([[-HUGE], [HUGE]]))
        value, grad = _value_and_gradient(LogLoss(x), x)
    np.testing.assert_allclose(value, [[HUGE], [0.0]], rtol=1e-6)
    np.testing.assert_allclose(grad, [[-1.0], [0.0]], atol=1e-6)


def test_log_loss_with_labels_never_takes_log_of_zero(dtype):
    with Graph(dtype=dtype):
        logits = _input(np.array([[HUGE], [-HUGE], [HUGE], [-HUGE]]))
        labels = _input(np.array([[0.0], [1.0], [1.0], [0.0]]), trainable=False)
        value, grad = _value_and_gradient(LogLoss(logits, labels), logits)
    # Two confidently wrong samples cost 1e4 each; the right ones cost nothing.
    np.testing.assert_allclose(value, [[2 * HUGE]], rtol=1e-6)
    np.testing.assert_allclose(grad, [[1.0], [-1.0], [0.0], [0.0]], atol=1e-6)


def test_a_batch_of_huge_logits_is_finite_too(dtype):
    with Graph(dtype=dtype):
        logits = _input(np.array([[[HUGE], [-HUGE]], [[-HUGE], [HUGE]]]), trainable=False)
        labels = _input(np.array([[[0.0], [1.0]], [[0.0], [1.0]]]), trainable=False)
        value = CrossEntropyWithSoftMax(logits, labels).forward()
    np.testing.assert_allclose(value[:, 0, 0], [2 * HUGE, 0.0], atol=1e-6, rtol=1e-6)
