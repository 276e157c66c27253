"""Shaping arrays of samples into the batch a Variable takes, and summing a batch of gradients."""

from functools import lru_cache

import numpy as np

from .errors import ShapeError


def as_batch(node, samples, source):
    """Reshape ``samples`` (N first) into a batch of ``node.dim`` matrices: (N, rows, cols).

    A sample may be given as a row of rows*cols numbers, as a (rows, cols)
    matrix, or, for a 1x1 node, as a plain number; values keep their row-major
    order. ``source`` says where the samples came from (a dict key, a model) in errors.
    """
    samples = np.asarray(samples)
    rows, cols = node.dim
    if samples.ndim == 0 or samples.shape[0] == 0:
        raise ShapeError(f"{source}: no samples for {node.describe()} (got shape {samples.shape})")
    if int(np.prod(samples.shape[1:], dtype=int)) != rows * cols:
        raise ShapeError(
            f"{source}: cannot feed x of shape {samples.shape} to input '{node.name}' of dim {node.dim}: "
            f"samples of shape {samples.shape[1:]} do not fit dim {node.dim}; expected N samples of "
            f"{rows * cols} values, such as (N, {rows * cols}) or (N, {rows}, {cols})"
        )
    return samples.reshape(len(samples), rows, cols)


def sum_over_batch(grads):
    """A batch of gradients (B, r, c) summed to one (r, c): a shared parent's gradient.

    As a vector of ones times the (B, r * c) matrix of samples: one BLAS call, where NumPy's sum
    over the leading axis loops in C over the small matrices (2-3x slower at 256 samples).
    """
    if len(grads) == 1:
        return grads[0]
    if grads.dtype.kind != "f":
        return grads.sum(axis=0)
    return (ones_vector(len(grads), grads.dtype) @ grads.reshape(len(grads), -1)).reshape(grads.shape[1:])


@lru_cache(maxsize=64)
def ones_vector(length, dtype):
    """A read-only vector of ``length`` ones, shared: sums as products (``sum_over_batch``, ``per_sample_sum``)."""
    ones = np.ones(length, dtype)
    ones.flags.writeable = False
    return ones
