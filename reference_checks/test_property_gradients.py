"""Property-based gradient checks over random shapes, batch sizes and values.

For every example hypothesis draws (see ``reference_checks.strategies``), in a
fresh float64 graph:

1. backprop agrees with central finite differences for every parent;
2. a batched evaluation is the same as evaluating each sample on its own: the
   values, the gradients of batched parents sample by sample, and the gradients
   of shared parents summed over the samples.

Runs are deterministic (``derandomize=True``), so a failure shows again on the next run.
"""

import numpy as np
import pytest
from hypothesis import given, settings

import matrixslow as ms
from matrixslow import ops
from matrixslow.core import backward
from reference_checks import strategies
from reference_checks.gradcheck import assert_gradients_match

# Modest example counts and small sizes keep the whole file to seconds. A property
# run once per layout (see ``strategies.LAYOUTS``) gets fewer examples per run.
EXAMPLES, EXAMPLES_PER_LAYOUT = 40, 30
PROPERTY_SETTINGS = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None)
LAYOUTS = sorted(strategies.LAYOUTS)
# Batched and per-sample paths may sum in a different order (one GEMM against many).
SAME = {"rtol": 1e-10, "atol": 1e-12}


def build_example(example, build):
    """Make the example's Variables in a fresh float64 graph, fill them, and build the operator on them."""
    with ms.core.Graph(dtype=np.float64):
        # Batches must be non-trainable: the engine keeps trainable values one matrix.
        variables = [ms.Variable(dim=p.shape, trainable=not p.batched, name=p.name) for p in example.parents]
        target = build(*variables)
    rng = np.random.default_rng(example.seed)
    for variable, parent in zip(variables, example.parents, strict=True):
        variable.set_value(parent.fill(rng, (example.batch, *parent.shape) if parent.batched else parent.shape))
    return target, variables


def assert_batch_equals_each_sample(target, variables, batch, seed):
    """A batched result and its gradients equal those of each sample evaluated alone.

    Seeds backprop with the same random projection in both runs, so every output
    element counts with its own weight. Restores the batched values at the end.
    """
    batched = [variable for variable in variables if variable.value.ndim == 3]
    value = target.forward().copy()
    if not batched:
        assert value.ndim == 2, f"{target.describe()}: no batched parent, yet the value has shape {value.shape}"
        return
    assert value.ndim == 3 and value.shape[0] == batch, f"{target.describe()}: batch of {batch} gave {value.shape}"
    projection = np.random.default_rng(seed).standard_normal(value.shape)
    grads = {variable: grad.copy() for variable, grad in backward(target, wrt=variables, seed=projection).items()}
    batch_values = {variable: variable.value for variable in batched}
    shared_sums = {variable: np.zeros_like(variable.value) for variable in variables if variable not in batch_values}
    try:
        for i in range(batch):
            for variable in batched:
                variable.set_value(batch_values[variable][i])
            sample_value = target.forward()
            assert sample_value.ndim == 2, f"{target.describe()}: sample {i} alone gave shape {sample_value.shape}"
            np.testing.assert_allclose(sample_value, value[i], **SAME, err_msg=f"{target.describe()} value, sample {i}")
            sample_grads = backward(target, wrt=variables, seed=projection[i])
            for variable in variables:
                if variable in batch_values:
                    np.testing.assert_allclose(
                        sample_grads[variable],
                        grads[variable][i],
                        **SAME,
                        err_msg=f"{target.describe()}: gradient of batched '{variable.name}', sample {i}",
                    )
                else:
                    shared_sums[variable] += sample_grads[variable]
        for variable, total in shared_sums.items():
            np.testing.assert_allclose(
                total, grads[variable], **SAME, err_msg=f"{target.describe()}: summed gradient of '{variable.name}'"
            )
    finally:
        for variable, batch_value in batch_values.items():
            variable.set_value(batch_value)
        target.forward()


def check_example(example, build):
    """Both properties for one example; returns the target for extra checks."""
    target, variables = build_example(example, build)
    assert_gradients_match(target, variables)
    assert_batch_equals_each_sample(target, variables, example.batch, example.seed + 1)
    return target


def holds_for(examples, build, max_examples=EXAMPLES, extra_check=None):
    """Run ``check_example`` (and ``extra_check(example, target)``) on every example of a strategy.

    For properties parametrized by pytest, where the strategy depends on the parameter.
    """

    @settings(PROPERTY_SETTINGS, max_examples=max_examples)
    @given(examples)
    def property_holds(example):
        target = check_example(example, build(example))
        if extra_check is not None:
            extra_check(example, target)

    property_holds()


# -- elementwise ---------------------------------------------------------------------
@PROPERTY_SETTINGS
@given(strategies.add_examples())
def test_add_of_one_to_three_parents(example):
    check_example(example, ops.Add)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_multiply(layout):
    holds_for(strategies.multiply_examples(layout), lambda example: ops.Multiply, EXAMPLES_PER_LAYOUT)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_scalar_multiply(layout):
    holds_for(strategies.scalar_multiply_examples(layout), lambda example: ops.ScalarMultiply, EXAMPLES_PER_LAYOUT)


# Values kept away from each activation's kinks; wide values reach the saturated tails.
SLOPES = strategies.st.sampled_from([0.0, 0.1, 0.3, -0.5, 1.7]).map(lambda slope: {"nslope": slope})
ONE_PARENT = {
    "Logistic": (ops.Logistic, strategies.unary_examples(strategies.wide)),
    "Tanh": (ops.Tanh, strategies.unary_examples(strategies.normal)),
    "ReLU": (ops.ReLU, strategies.unary_examples(strategies.away_from_zero, settings=SLOPES)),
    "SoftMax": (ops.SoftMax, strategies.unary_examples(strategies.wide)),
    # Its gradient is zero wherever it exists: this still checks the gradient's shape and the batched forward.
    "Step": (ops.Step, strategies.unary_examples(strategies.away_from_zero)),
}


@pytest.mark.parametrize("name", sorted(ONE_PARENT))
def test_activation(name):
    operator, examples = ONE_PARENT[name]
    holds_for(examples, lambda example: lambda x: operator(x, **example.settings))


# -- MatMul --------------------------------------------------------------------------
def _check_matmul_shape(example, target):
    (n, _), (_, m) = (parent.shape for parent in example.parents)
    assert target.value.shape[-2:] == (n, m)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_matmul(layout):
    holds_for(strategies.matmul_examples(layout), lambda example: ops.MatMul, EXAMPLES_PER_LAYOUT, _check_matmul_shape)


# -- shapes ----------------------------------------------------------------------------
@PROPERTY_SETTINGS
@given(strategies.concat_examples())
def test_concat_of_shared_and_batched_parents(example):
    target = check_example(example, ops.Concat)
    size = sum(rows * cols for rows, cols in (parent.shape for parent in example.parents))
    assert target.value.shape[-2:] == (size, 1)


@PROPERTY_SETTINGS
@given(strategies.reshape_examples())
def test_reshape(example):
    target = check_example(example, lambda x: ops.Reshape(x, **example.settings))
    assert target.value.shape[-2:] == example.settings["shape"]


# -- convolution and pooling -----------------------------------------------------------
def _check_same_shape(example, target):
    assert target.value.shape[-2:] == example.parents[0].shape  # a "same" convolution


@pytest.mark.parametrize("layout", LAYOUTS)
def test_convolve(layout):
    examples = strategies.convolve_examples(layout)
    holds_for(examples, lambda example: ops.Convolve, EXAMPLES_PER_LAYOUT, _check_same_shape)


@PROPERTY_SETTINGS
@given(strategies.max_pooling_examples())
def test_max_pooling(example):
    target = check_example(example, lambda x: ops.MaxPooling(x, **example.settings))
    (height, width), (stride_h, stride_w) = example.parents[0].shape, example.settings["stride"]
    assert target.value.shape[-2:] == (-(-height // stride_h), -(-width // stride_w))
