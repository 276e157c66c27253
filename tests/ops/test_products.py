"""The batched matrix product and its gradients, against einsum, for every layout the engine meets."""

import numpy as np
import pytest

from matrixslow.ops.products import grad_left, grad_right, matmul

# (shape of a, shape of b): shared or batched operands, column vectors (m == 1) and wider, small and large batches.
LAYOUTS = [
    ((3, 4), (4, 1)),
    ((3, 4), (4, 5)),
    ((3, 4), (2, 4, 1)),
    ((3, 4), (7, 4, 1)),
    ((3, 4), (3, 4, 5)),
    ((3, 4), (9, 4, 5)),
    ((6, 3, 4), (4, 1)),
    ((6, 3, 4), (4, 5)),
    ((6, 3, 4), (6, 4, 5)),
    ((6, 3, 4), (6, 4, 1)),
]


def batched(x, batch):
    return x if x.ndim == 3 else np.broadcast_to(x, (batch, *x.shape))


@pytest.mark.parametrize(("a_shape", "b_shape"), LAYOUTS, ids=str)
def test_product_and_gradients_match_einsum(a_shape, b_shape):
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=a_shape), rng.normal(size=b_shape)
    out = matmul(a, b)
    batch = max(a.shape[0] if a.ndim == 3 else 1, b.shape[0] if b.ndim == 3 else 1)
    expected = np.einsum("bnk,bkm->bnm", batched(a, batch), batched(b, batch))
    if a.ndim == 2 and b.ndim == 2:
        expected = expected[0]
    np.testing.assert_allclose(out, expected, rtol=1e-13, atol=1e-13)

    grad = rng.normal(size=out.shape)
    per_sample_a = np.einsum("bnm,bkm->bnk", batched(grad, batch), batched(b, batch))
    per_sample_b = np.einsum("bnk,bnm->bkm", batched(a, batch), batched(grad, batch))
    # A shared operand's gradient is the sum over the samples, and has the operand's shape.
    expected_a = per_sample_a.sum(axis=0) if a.ndim == 2 else per_sample_a
    expected_b = per_sample_b.sum(axis=0) if b.ndim == 2 else per_sample_b
    np.testing.assert_allclose(grad_left(a, b, grad), expected_a, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(grad_right(a, b, grad), expected_b, rtol=1e-12, atol=1e-12)
    assert grad_left(a, b, grad).shape == a.shape and grad_right(a, b, grad).shape == b.shape
