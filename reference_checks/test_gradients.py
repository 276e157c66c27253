"""Every operator's backprop agrees with finite differences, per sample and batched.

Also: no operator can exist without a case, the checker does catch a wrong
gradient, float32 graphs stay float32, and the dense ``jacobian`` is right.
"""

import numpy as np
import pytest

import matrixslow as ms
from matrixslow import ops
from matrixslow.ops import loss
from reference_checks.gradcheck import (
    assert_gradients_match,
    check_gradients,
    numerical_jacobian,
    relative_error,
)
from reference_checks.operator_cases import ALL_CASES, BATCH, CASES, SAMPLE

CASE_MODES = [
    pytest.param(operator_case, mode, id=f"{operator_case.name}-{mode}")
    for operator_case in ALL_CASES
    for mode in operator_case.modes
]

# Base classes that compute nothing themselves; every other Operator needs a case.
BASE_CLASSES = {ops.Operator, loss.LossFunction}


# -- (a) every operator, every mode ----------------------------------------------
@pytest.mark.parametrize(("operator_case", "mode"), CASE_MODES)
def test_backprop_matches_finite_differences(operator_case, mode):
    _, target, inputs = operator_case.make(mode)
    assert isinstance(target, operator_case.operator), f"case {operator_case} built a {type(target).__name__}"
    target.forward()
    # The mode must really be what it says: one matrix per sample, or a batch of BATCH.
    expected_ndim = 2 if mode == SAMPLE else 3
    assert target.value.ndim == expected_ndim, f"{operator_case} in mode {mode} gave shape {target.value.shape}"
    if mode != SAMPLE:
        assert target.value.shape[0] == BATCH
    assert_gradients_match(target, inputs)


def test_check_leaves_input_values_unchanged():
    _, target, inputs = CASES[ops.Convolve][0].make("batch")
    before = [variable.value.copy() for variable in inputs]
    value_before = target.forward().copy()
    check_gradients(target, inputs)
    for variable, value in zip(inputs, before, strict=True):
        np.testing.assert_array_equal(variable.value, value)
    np.testing.assert_array_equal(target.forward(), value_before)


def test_two_layer_network_with_a_shared_weight_used_twice():
    """A graph with branching: W1 feeds two paths, so its gradients must add up."""
    rng = np.random.default_rng(5)
    with ms.core.Graph():
        x = ms.Variable((4, 1), trainable=False, name="x")
        labels = ms.Variable((3, 1), trainable=False, name="labels")
        w1, b1, w2 = (ms.Variable(dim, name=name) for name, dim in [("W1", (4, 4)), ("b1", (4, 1)), ("W2", (3, 4))])
        hidden = ops.Tanh(ops.Add(ops.MatMul(w1, x), b1))
        hidden = ops.Logistic(ops.MatMul(w1, hidden))  # W1 again
        target = loss.CrossEntropyWithSoftMax(ops.MatMul(w2, hidden), labels)
    for variable in (w1, b1, w2):
        variable.set_value(rng.standard_normal(variable.dim))
    x.set_value(rng.standard_normal((BATCH, 4, 1)))
    labels.set_value(np.eye(3)[rng.integers(0, 3, BATCH)][:, :, None])
    assert_gradients_match(target, [w1, b1, w2, x])


# -- (b) no operator without a case -----------------------------------------------
def _exported_operators(module):
    # Every public name, whether or not it made it into __all__.
    names = set(getattr(module, "__all__", ())) | {name for name in vars(module) if not name.startswith("_")}
    objects = (getattr(module, name) for name in names)
    return {obj for obj in objects if isinstance(obj, type) and issubclass(obj, ops.Operator)}


def test_every_exported_operator_has_a_case():
    exported = (_exported_operators(ops) | _exported_operators(loss)) - BASE_CLASSES
    # Guard the guard: if discovery broke and found nothing, the test below would pass vacuously.
    assert {ops.MatMul, ops.Convolve, loss.CrossEntropyWithSoftMax} <= exported
    missing = sorted(cls.__name__ for cls in exported if cls not in CASES)
    assert not missing, f"operators without a gradient-check case in operator_cases.py: {missing}"


def test_every_registered_operator_has_a_case():
    # Only the engine's own types: other tests may register throwaway node types.
    registered = {
        cls
        for cls in ms.core.NODE_TYPES.values()
        if issubclass(cls, ops.Operator) and cls.__module__.startswith("matrixslow.")
    }
    assert {ops.MatMul, ops.Welding, loss.LogLoss} <= registered
    missing = sorted(cls.__name__ for cls in registered if cls not in CASES)
    assert not missing, f"registered operators without a gradient-check case: {missing}"


def test_every_case_checks_its_operator_per_sample_and_batched():
    for operator_case in ALL_CASES:
        assert {"sample", "batch"} <= set(operator_case.modes), operator_case.name


# -- (c) the checker can fail -------------------------------------------------------
class ScaledTanh(ops.Tanh):
    """A Tanh whose gradient is off by ``factor``: the checker must notice. Not registered."""

    factor = 1.0

    def vjp(self, parent_index, grad):
        return self.factor * super().vjp(parent_index, grad)


class TransposedMatMul(ops.MatMul):
    """A MatMul whose left gradient forgets to transpose B (G B instead of G B^T)."""

    def vjp(self, parent_index, grad):
        if parent_index == 0:
            return grad @ self.parents[1].value
        return super().vjp(parent_index, grad)


@pytest.mark.parametrize("factor", [2.0, -1.0, 1.0001])
@pytest.mark.parametrize("batched", [False, True], ids=["sample", "batch"])
def test_checker_catches_a_scaled_gradient(factor, batched):
    rng = np.random.default_rng(1)
    with ms.core.Graph():
        x = ms.Variable((3, 2), trainable=False, name="x")
        node = ScaledTanh(x, name="WrongTanh")
    node.factor = factor
    x.set_value(rng.standard_normal((BATCH, 3, 2) if batched else (3, 2)))
    with pytest.raises(AssertionError, match=r"ScaledTanh 'WrongTanh'.*input 'x'"):
        assert_gradients_match(node, [x])
    node.factor = 1.0
    assert_gradients_match(node, [x])  # the same graph passes once the gradient is right


def test_checker_catches_a_missing_transpose_and_names_the_input():
    rng = np.random.default_rng(2)
    with ms.core.Graph():
        a, b = ms.Variable((3, 3), name="A"), ms.Variable((3, 3), name="B")
        product = TransposedMatMul(a, b, name="Product")
    a.set_value(rng.standard_normal((3, 3)))
    b.set_value(rng.standard_normal((3, 3)))
    result = check_gradients(product, [a, b])
    assert result.errors["A"] > 1e-3
    assert result.errors["B"] < 1e-6  # the right gradient still passes
    assert result.worst_input == "A"
    with pytest.raises(AssertionError, match=r"TransposedMatMul 'Product'.*input 'A'"):
        assert_gradients_match(product, [a, b])


def test_relative_error():
    assert relative_error(np.zeros(3), np.zeros(3)) == 0.0
    assert relative_error(np.array([1.0, 2.0]), np.array([1.0, 2.0])) == 0.0
    assert relative_error(np.array([2.0]), np.array([1.0])) == pytest.approx(1 / 3)


def test_checker_refuses_a_float32_graph():
    _, target, inputs = CASES[ops.Tanh][0].make("sample", dtype=np.float32)
    with pytest.raises(TypeError, match="float64"):
        check_gradients(target, inputs)


# -- (d) float32 graphs stay float32 -------------------------------------------------
@pytest.mark.parametrize("operator_case", ALL_CASES, ids=str)
def test_float32_graph_keeps_float32(operator_case):
    mode = operator_case.modes[-1]
    _, target, inputs = operator_case.make(mode, dtype=np.float32)
    value = target.forward()
    assert value.dtype == np.float32, f"{operator_case} forward gave {value.dtype}"
    grads = ms.core.backward(target, wrt=inputs)
    wrong = {variable.name: grads[variable].dtype for variable in inputs if grads[variable].dtype != np.float32}
    assert not wrong, f"{operator_case}: float64 gradients in a float32 graph: {wrong}"
    # Sanity: the float32 forward value is the float64 one, to float32 precision.
    _, target64, _ = operator_case.make(mode)
    np.testing.assert_allclose(value, target64.forward(), rtol=1e-5, atol=1e-5)


# -- the dense single-sample Jacobian -------------------------------------------------
def test_jacobian_matches_finite_differences():
    rng = np.random.default_rng(4)
    with ms.core.Graph():
        w, x = ms.Variable((3, 4), name="W"), ms.Variable((4, 2), trainable=False, name="x")
        product = ops.MatMul(w, x)
        probabilities = ops.SoftMax(x)
    w.set_value(rng.standard_normal((3, 4)))
    x.set_value(rng.standard_normal((4, 2)))
    for result, node in [(product, w), (product, x), (probabilities, x)]:
        dense = ms.core.jacobian(result, node)
        assert dense.shape == (result.dimension(), node.dimension())
        np.testing.assert_allclose(dense, numerical_jacobian(result, node), rtol=1e-7, atol=1e-8)
    # Known closed forms, so a shared mistake in both sides cannot pass: d(Wx)/dW = I kron x^T.
    np.testing.assert_allclose(ms.core.jacobian(product, w), np.kron(np.eye(3), x.value.T), atol=1e-12)
    s = probabilities.value.ravel()
    np.testing.assert_allclose(ms.core.jacobian(probabilities, x), np.diag(s) - np.outer(s, s), atol=1e-12)
