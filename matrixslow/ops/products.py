"""The matrix product of a batch, and its two gradients, each as one BLAS call.

``a @ b`` with a weight shared by a batch makes one small product per sample, and
``np.tensordot`` pays transposes and reshapes in Python on every call. The trick
used here: a batch of (k, m) matrices is a (B * k, m) matrix, or, when m == 1 (the
book's column vectors), a plain (B, k) matrix of rows. Either way the whole batch
is one GEMM, and the result is reshaped back for free.
"""

import numpy as np


def matmul(a, b):
    """Matrix product of matrices or batches of matrices: (n, k) or (B, n, k) times (k, m) or (B, k, m)."""
    if a.ndim == 2 and b.ndim == 3:
        batch, k, m = b.shape
        if batch == 1:  # one sample: NumPy's broadcasting product is a single call, no reshapes
            return a @ b
        if m == 1:  # B columns: rows of one (B, k) matrix, times a^T
            return (b.reshape(batch, k) @ a.T).reshape(batch, a.shape[0], 1)
        return np.matmul(a, b) if batch <= 4 else _shared_left(a, b)
    if a.ndim == 3 and b.ndim == 2:
        batch, n, k = a.shape
        return (a.reshape(batch * n, k) @ b).reshape(batch, n, b.shape[1])
    return a @ b


def _shared_left(a, b):
    # (n, k) x (B, k, m): the batch laid side by side as (k, B * m) columns; the one copy is that layout.
    batch, k, m = b.shape
    side_by_side = b.transpose(1, 0, 2).reshape(k, batch * m)
    return (a @ side_by_side).reshape(a.shape[0], batch, m).transpose(1, 0, 2)


def grad_left(a, b, grad):
    """d/da of sum(grad * (a @ b)): grad @ b^T per sample, summed over the batch when ``a`` is shared."""
    if a.ndim == 2 and grad.ndim == 3:
        batch, n, m = grad.shape
        if m == 1:
            return grad.reshape(batch, n).T @ b.reshape(batch, b.shape[1])
        return grad.transpose(1, 0, 2).reshape(n, batch * m) @ b.transpose(0, 2, 1).reshape(batch * m, b.shape[1])
    return matmul(grad, np.swapaxes(b, -1, -2))


def grad_right(a, b, grad):
    """d/db of sum(grad * (a @ b)): a^T @ grad per sample, summed over the batch when ``b`` is shared."""
    if b.ndim == 2 and grad.ndim == 3:
        batch, n, m = grad.shape
        return a.reshape(batch * n, a.shape[2]).T @ grad.reshape(batch * n, m)
    if a.ndim == 2 and grad.ndim == 3 and grad.shape[2] == 1 and len(grad) > 1:
        # B columns: rows of one (B, n) matrix, times a
        return (grad.reshape(len(grad), -1) @ a).reshape(len(grad), a.shape[1], 1)
    if a.ndim == 2:
        return matmul(a.T, grad)
    return matmul(np.swapaxes(a, -1, -2), grad)
