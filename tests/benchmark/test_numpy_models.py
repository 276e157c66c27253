"""Each NumPy twin of the benchmark does exactly matrixslow's training step: same loss, gradients, update.

Without this a benchmark ratio could compare unequal work. Both start from the same weights and
see the same batch; the gradients are compared before any update, so a wrong gradient cannot hide
behind Adam's normalised step. In float64 and float32 (tests/benchmark/test_twin_dtypes.py checks
that the float32 twin really computes in float32).
"""

import numpy as np
import pytest

import matrixslow as ms
from benchmark import engine_models
from benchmark.numpy_mlp import NumpyMLP
from benchmark.numpy_models import max_pool

DTYPES = pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
# In float32 the twin sums in another order than matrixslow, so results differ in the last bits (measured: up to
# 5e-6 of a gradient's scale); Adam's normalised step turns a near-zero gradient's rounding into up to 2e-5.
LOSS_RTOL = {np.float64: 1e-12, np.float32: 1e-6}
GRADIENT_TOLERANCE = {np.float64: dict(rtol=1e-9, atol=1e-13), np.float32: dict(rtol=1e-4, atol=1e-6)}
VALUE_TOLERANCE = {np.float64: dict(rtol=1e-9, atol=1e-12), np.float32: dict(rtol=1e-5, atol=5e-5)}


def twin_gradients_in_matrixslow_layout(twin, x, y):
    loss, grads = twin.gradients(x, y)
    if isinstance(twin, NumpyMLP):  # row-major weights first, then biases: back to W (out, in), b (out, 1) pairs
        layers = len(twin.weights)
        grads = [g for w, b in zip(grads[:layers], grads[layers:], strict=True) for g in (w.T, b[:, None])]
    return loss, grads


def twin_values_in_matrixslow_layout(twin):
    if isinstance(twin, NumpyMLP):
        return [v for w, b in zip(twin.weights, twin.biases, strict=True) for v in (w.T, b[:, None])]
    return twin.params


@DTYPES
@pytest.mark.parametrize("name", engine_models.MODEL_NAMES)
def test_twin_loss_and_gradients_equal_matrixslow(name, dtype):
    graph, model, optimizer = engine_models.build_matrixslow(name, seed=4, dtype=dtype)
    twin = engine_models.SPECS[name].twin(engine_models.trainable_values(graph))
    images, labels = engine_models.synthetic_batch(7, np.random.default_rng(5))
    engine_models.feed_matrixslow(name, model, images, labels)
    x, y = engine_models.twin_inputs(name, images, labels, dtype)

    optimizer.one_step()
    variables = ms.core.get_trainable_variables_from_graph(graph=graph)
    twin_loss, twin_grads = twin_gradients_in_matrixslow_layout(twin, x, y)

    assert np.isclose(twin_loss, model.loss.value.mean(), rtol=LOSS_RTOL[dtype])
    assert len(twin_grads) == len(variables)
    for variable, grad in zip(variables, twin_grads, strict=True):
        expected = optimizer.get_gradient(variable)
        assert np.abs(expected).max() > 0, f"{variable.name}: a zero gradient would not test anything"
        assert grad.dtype == expected.dtype == dtype, f"{variable.name}: twin {grad.dtype}, matrixslow {expected.dtype}"
        np.testing.assert_allclose(grad, expected, **GRADIENT_TOLERANCE[dtype], err_msg=variable.name)


@DTYPES
@pytest.mark.parametrize("name", engine_models.MODEL_NAMES)
def test_twin_adam_steps_equal_matrixslow(name, dtype):
    graph, model, optimizer = engine_models.build_matrixslow(name, seed=1, dtype=dtype)
    twin = engine_models.SPECS[name].twin(engine_models.trainable_values(graph))
    rng = np.random.default_rng(2)
    for _ in range(3):
        images, labels = engine_models.synthetic_batch(5, rng)
        engine_models.feed_matrixslow(name, model, images, labels)
        optimizer.one_step()
        optimizer.update()
        twin.step(*engine_models.twin_inputs(name, images, labels, dtype))
    variables = ms.core.get_trainable_variables_from_graph(graph=graph)
    for variable, value in zip(variables, twin_values_in_matrixslow_layout(twin), strict=True):
        assert value.dtype == variable.value.dtype == dtype, f"{variable.name}: twin {value.dtype}"
        np.testing.assert_allclose(value, variable.value, **VALUE_TOLERANCE[dtype], err_msg=variable.name)


def test_max_pool_takes_the_maximum_of_each_clipped_centred_window():
    maps = np.arange(25.0).reshape(1, 1, 5, 5)  # increasing: each window's maximum is its bottom-right pixel
    pooled, _ = max_pool(maps, (3, 3), (2, 2))
    # windows centred on rows/cols 0, 2, 4, clipped to the image: bottom-right corners at 1, 3, 4
    corners = [1, 3, 4]
    expected = np.array([[5 * r + c for c in corners] for r in corners], dtype=float)
    np.testing.assert_array_equal(pooled[0, 0], expected)
