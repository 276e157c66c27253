"""Turning arrays of samples into values for input Variables, and cutting them into batches."""

import numpy as np

from ..core.errors import ShapeError


def as_batch(node, samples, field):
    """Reshape ``samples`` (N first) into a batch of ``node.dim`` matrices: (N, rows, cols).

    A sample may be given as a row of rows*cols numbers, as a (rows, cols)
    matrix, or, for a 1x1 node, as a plain number. ``field`` names the samples'
    origin (a dict key) in errors.
    """
    samples = np.asarray(samples)
    rows, cols = node.dim
    if samples.ndim == 0 or samples.shape[0] == 0:
        raise ShapeError(f"{field!r} for {node.describe()}: no samples (shape {samples.shape})")
    per_sample = int(np.prod(samples.shape[1:], dtype=int))
    if per_sample != rows * cols:
        raise ShapeError(
            f"{field!r} for {node.describe()}: samples of shape {samples.shape[1:]} do not fit dim {node.dim} "
            f"(expected {rows * cols} numbers per sample)"
        )
    return samples.reshape(len(samples), rows, cols)


def sample_count(arrays, what):
    """The common number of samples of ``arrays`` (a dict of name -> array), checked."""
    counts = {name: len(array) for name, array in arrays.items()}
    if len(set(counts.values())) != 1:
        raise ShapeError(f"{what}: every array needs the same number of samples, got {counts}")
    return next(iter(counts.values()))


def batches(count, batch_size, rng=None):
    """Index arrays of at most ``batch_size`` samples covering ``count``; shuffled when ``rng`` is given."""
    order = rng.permutation(count) if rng is not None else np.arange(count)
    return [order[start : start + batch_size] for start in range(0, count, batch_size)]
