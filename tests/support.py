"""Independent references the tests compare the engine with: finite differences and small data sets."""

import numpy as np


def numerical_gradient(function, array, step=1e-6):
    """Central differences of the scalar ``function()`` with respect to every element of ``array``.

    ``array`` is changed in place and restored, so ``function`` must read it afresh.
    """
    gradient = np.zeros_like(array)
    for index in np.ndindex(array.shape):
        original = array[index]
        array[index] = original + step
        plus = function()
        array[index] = original - step
        minus = function()
        array[index] = original
        gradient[index] = (plus - minus) / (2 * step)
    return gradient


def as_columns(rows):
    """(B, n) rows -> (B, n, 1): a batch of column vectors, the engine's batched input."""
    return np.asarray(rows)[:, :, None]


def one_hot(labels, classes):
    return np.eye(classes)[labels]


def two_circles(n, rng, noise=0.08):
    """Points on an inner (label 0) and an outer (label 1) circle: separable, but not by a line."""
    labels = rng.integers(0, 2, n)
    radius = np.where(labels == 0, 0.5, 1.2)
    angle = rng.uniform(0.0, 2 * np.pi, n)
    points = np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1)
    return points + rng.normal(0.0, noise, points.shape), labels
