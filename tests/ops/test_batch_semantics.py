"""A batch is B samples at once: the same values and gradients as B single-sample runs.

A parent given a 3-D value (B, r, c) holds one matrix per sample; a parent
given a 2-D value is one matrix shared by every sample, and its gradient is
the sum of the per-sample gradients.
"""

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import matrixslow as ms
from matrixslow.core import Graph
from tests.ops.cases import BY_ID, CASES, Case, max_pool
from tests.ops.test_values import build

BATCH = 3


def _batched_masks(case):
    """Every way of batching some parents (at least one)."""
    count = len(case.shapes)
    return [mask for mask in itertools.product([False, True], repeat=count) if any(mask)]


PARAMS = [
    pytest.param(case, mask, id=f"{case.id}-{''.join('B' if b else 's' for b in mask)}")
    for case in CASES
    for mask in _batched_masks(case)
]


def _run(case, values, seed):
    """Value of the operator and the gradients of sum(seed * value) for its parents, in a graph of their own."""
    with Graph():
        parents, node = build(case, values)
        value = node.forward()
        grads = ms.core.backward(node, wrt=parents, seed=seed)
    return value, [grads[parent] for parent in parents]


@pytest.mark.parametrize(("case", "mask"), PARAMS)
def test_a_batch_matches_its_samples_one_by_one(case, mask):
    rng = np.random.default_rng(3)
    samples = [case.values(rng) for _ in range(BATCH)]
    shared = case.values(rng)
    batch_values = [
        np.stack([sample[i] for sample in samples]) if batched else shared[i] for i, batched in enumerate(mask)
    ]
    per_sample_values = [[sample[i] if batched else shared[i] for i, batched in enumerate(mask)] for sample in samples]

    single_shape = case.reference(*per_sample_values[0]).shape
    seeds = rng.normal(0.0, 1.0, (BATCH, *single_shape))
    singles = [_run(case, values, seeds[b]) for b, values in enumerate(per_sample_values)]
    batch_value, batch_grads = _run(case, batch_values, seeds)

    assert batch_value.shape == (BATCH, *single_shape)
    np.testing.assert_allclose(batch_value, np.stack([value for value, _ in singles]), rtol=1e-12, atol=1e-14)
    for i, batched in enumerate(mask):
        per_sample = np.stack([grads[i] for _, grads in singles])
        expected = per_sample if batched else per_sample.sum(axis=0)
        assert batch_grads[i].shape == batch_values[i].shape
        np.testing.assert_allclose(batch_grads[i], expected, rtol=1e-10, atol=1e-12, err_msg=f"parent {i}")


def test_a_batch_of_one_is_not_the_same_as_one_sample():
    # (1, r, c) stays a batch: the value keeps its batch axis.
    value, _ = _run(BY_ID["Tanh"], [np.zeros((1, 2, 3))], np.ones((1, 2, 3)))
    assert value.shape == (1, 2, 3)


dims = st.integers(min_value=1, max_value=5)


@settings(max_examples=30, deadline=None)
@given(n=dims, k=dims, m=dims, batch=st.integers(1, 4), weights_shared=st.booleans(), seed=st.integers(0, 2**16))
def test_matmul_of_any_shapes_batches_like_its_samples(n, k, m, batch, weights_shared, seed):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(n, k) if weights_shared else (batch, n, k))
    b = rng.normal(size=(batch, k, m))
    grad_seed = rng.normal(size=(batch, n, m))
    value, (grad_a, grad_b) = _run(BY_ID["MatMul"], [a, b], grad_seed)
    a_of = (lambda i: a) if weights_shared else (lambda i: a[i])
    np.testing.assert_allclose(value, np.stack([a_of(i) @ b[i] for i in range(batch)]), rtol=1e-12, atol=1e-12)
    per_sample_grad_a = np.stack([grad_seed[i] @ b[i].T for i in range(batch)])
    expected_a = per_sample_grad_a.sum(axis=0) if weights_shared else per_sample_grad_a
    np.testing.assert_allclose(grad_a, expected_a, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(grad_b, np.stack([a_of(i).T @ grad_seed[i] for i in range(batch)]), atol=1e-12)


@settings(max_examples=20, deadline=None)
@given(
    height=st.integers(1, 7),
    width=st.integers(1, 7),
    size=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    stride=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    batch=st.integers(1, 3),
    seed=st.integers(0, 2**16),
)
def test_max_pooling_of_any_shape_batches_like_its_samples(height, width, size, stride, batch, seed):
    case = Case(
        "pool",
        lambda p: ms.ops.MaxPooling(*p, size=size, stride=stride),
        lambda a: max_pool(a, size, stride),
        [(height, width)],
    )
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(batch, height, width))
    expected = np.stack([max_pool(sample, size, stride) for sample in x])
    grad_seed = rng.normal(size=expected.shape)
    value, (grad,) = _run(case, [x], grad_seed)
    np.testing.assert_allclose(value, expected)
    # Each output's gradient goes to its window's maximum; the input gradient adds those up.
    assert np.isclose(grad.sum(), grad_seed.sum())
    singles = np.stack([_run(case, [x[i]], grad_seed[i])[1][0] for i in range(batch)])
    np.testing.assert_allclose(grad, singles, rtol=1e-12)
