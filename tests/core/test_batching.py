"""Summing a batch of gradients and of per-sample entries as products with a vector of ones."""

import numpy as np
import pytest

from matrixslow.core.batching import ones_vector, sum_over_batch
from matrixslow.ops.base import per_sample_sum


@pytest.mark.parametrize("shape", [(2, 3, 1), (32, 10, 1), (256, 8, 8), (5, 1, 4)])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_a_batch_of_gradients_sums_to_one_gradient_in_its_dtype(shape, dtype):
    grads = np.random.default_rng(0).normal(size=shape).astype(dtype)
    summed = sum_over_batch(grads)
    assert summed.shape == shape[1:] and summed.dtype == dtype
    np.testing.assert_allclose(summed, grads.sum(axis=0, dtype=np.float64), rtol=1e-5 if dtype == np.float32 else 1e-12)


def test_a_batch_of_one_is_its_only_gradient_and_integers_are_summed_exactly():
    grads = np.arange(6.0).reshape(1, 2, 3)
    assert np.array_equal(sum_over_batch(grads), grads[0])
    integers = np.arange(24).reshape(4, 2, 3)
    assert np.array_equal(sum_over_batch(integers), integers.sum(axis=0))


def test_sums_carry_infinities_and_nan_as_a_sum_would():
    grads = np.zeros((3, 1, 3))
    grads[0, 0] = [np.inf, np.inf, np.nan]
    grads[1, 0] = [1.0, -np.inf, 0.0]
    with np.errstate(invalid="ignore"):  # inf - inf warns, in a sum as in a product
        summed = sum_over_batch(grads)
    assert summed[0, 0] == np.inf and np.isnan(summed[0, 1]) and np.isnan(summed[0, 2])


@pytest.mark.parametrize("shape", [(3, 4), (7, 10, 1), (2, 3, 5, 5)])
def test_per_sample_sums_are_each_matrix_summed(shape):
    values = np.random.default_rng(1).normal(size=shape)
    np.testing.assert_allclose(per_sample_sum(values), values.sum(axis=(-2, -1), keepdims=True), rtol=1e-12)


def test_the_shared_vector_of_ones_cannot_be_written():
    with pytest.raises(ValueError):
        ones_vector(4, np.float64)[0] = 2.0
