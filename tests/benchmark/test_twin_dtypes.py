"""A float32 NumPy twin computes in float32: every array of one training step has the twin's dtype.

Otherwise the float32 ratios of the benchmark would set matrixslow's float32 step against a twin
doing part of its work in float64. The step includes the Adam update, so the moments are checked too.
"""

import sys

import numpy as np
import pytest

from benchmark import engine_models, numpy_adam, numpy_mlp, numpy_models, test_engine_step

from .dtype_tracer import DtypeTrace

TWIN_MODULES = (numpy_models, numpy_mlp, numpy_adam)
CNN_HELPERS = {"leaky_relu", "leaky_relu_slope", "softmax_cross_entropy", "max_pool", "max_pool_backward"}
# NumPy's bincount sums only in float64; matrixslow's MaxPooling.vjp sums there too and casts back, and so does
# the twin, to do the same work. The one float64 array a float32 step may hold, and it must be there: if the
# scatter changes in the engine and the twin, this entry goes.
SAME_AS_ENGINE = {"cnn": {"max_pool_backward: summed"}}


def traced_step(twin, x, y, dtype):
    trace = DtypeTrace(dtype, TWIN_MODULES)
    trace.run(twin.step, x, y)
    return trace


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("name", engine_models.MODEL_NAMES)
def test_every_array_of_a_twin_step_has_the_twin_dtype(name, dtype):
    graph, _, _ = engine_models.build_matrixslow(name, seed=0, dtype=dtype)
    twin = engine_models.SPECS[name].twin(engine_models.trainable_values(graph))
    images, labels = engine_models.synthetic_batch(5, np.random.default_rng(1))
    trace = traced_step(twin, *engine_models.twin_inputs(name, images, labels, dtype), dtype)

    # the tracer must have looked inside the gradients, the update and (CNN) the helpers, or it proves nothing
    expected = {f"{type(twin).__name__}.gradients", "Adam.update"} | (CNN_HELPERS if name == "cnn" else set())
    assert expected <= set(trace.checked), f"{name}: not traced: {sorted(expected - set(trace.checked))}"
    allowed = SAME_AS_ENGINE.get(name, set()) if dtype == np.float32 else set()
    assert set(trace.wrong) == allowed, (
        f"{name} twin in {np.dtype(dtype).name}: other dtypes (allowed: {sorted(allowed)}):\n{trace.report()}"
    )


def test_the_benchmarks_large_float32_mlp_step_is_float32():
    step = test_engine_step.build_numpy_step(np.float32)  # a closure over the twin and its batch
    trace = DtypeTrace(np.float32, TWIN_MODULES)
    trace.run(step)
    assert {"NumpyMLP.step", "NumpyMLP.gradients", "Adam.update"} <= set(trace.checked)
    assert not trace.wrong, f"the float32 784-256-256-10 twin, arrays of another dtype:\n{trace.report()}"


def promotes_through_a_float64_slope(z):
    slope = np.where(z > 0, 1.0, 0.1)  # the old twins' mistake: a float64 array from Python floats
    return z * slope


def test_the_tracer_names_a_float64_intermediate_and_where_it_was():
    trace = DtypeTrace(np.float32, [sys.modules[__name__]])
    trace.run(promotes_through_a_float64_slope, np.ones(3, dtype=np.float32))
    assert set(trace.wrong) == {
        "promotes_through_a_float64_slope: slope",
        "promotes_through_a_float64_slope: <return value>",
    }
    assert "float64 at line" in trace.report()


def test_the_tracer_looks_into_lists_and_the_traced_modules_objects():
    twin = numpy_mlp.NumpyMLP((3, 2), np.random.default_rng(0), dtype=np.float32)
    twin.biases[0] = twin.biases[0].astype(np.float64)  # a stray float64 parameter, not a local
    trace = DtypeTrace(np.float32, TWIN_MODULES)
    trace.run(twin.gradients, np.ones((2, 3), dtype=np.float32), np.eye(2, dtype=np.float32))
    assert "NumpyMLP.gradients: self.biases[0]" in trace.wrong
