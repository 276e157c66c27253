"""Noisy sine and square waves: the sequence-classification task of the book's RNN chapter (NumPy only)."""

import numpy as np

from .base import Dataset

SINE, SQUARE = 0, 1


def make_sine_square_sequences(n, length=32, seed=0, noise=0.5, features=1, cycles=(1.0, 3.0)):
    """Generate ``n`` noisy waves, half of them sines (label 0) and half square waves (label 1).

    Each wave has its own frequency (``cycles`` full periods over the sequence,
    drawn uniformly) and phase, amplitude 1, and Gaussian noise of std ``noise``
    added to every step. With ``features > 1`` every step holds that many noisy
    copies of the same wave, like the book's ``dimension`` (the book uses fixed
    frequencies; random ones make the task about the shape, not the timing).

    Parameters
    ----------
    n : int
        The number of sequences; the labels are exactly balanced (one more sine if ``n`` is odd).
    length : int
        The number of time steps T.
    seed : int, SeedSequence or Generator
        Same seed, same sequences.
    noise : float
        The standard deviation of the noise.
    features : int
        The number of values per time step.
    cycles : (float, float)
        The range of the number of periods in one sequence.

    Returns
    -------
    x : ndarray of float64, shape (n, length, features)
    y : ndarray of int64, shape (n,)
    """
    if n < 1 or length < 2 or features < 1:
        raise ValueError(
            f"make_sine_square_sequences: need n >= 1, length >= 2, features >= 1; got {n}, {length}, {features}"
        )
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.arange(n) % 2)
    periods = rng.uniform(cycles[0], cycles[1], size=(n, 1))
    phase = rng.uniform(0.0, 2 * np.pi, size=(n, 1))
    angle = 2 * np.pi * periods * np.arange(length) / length + phase
    sine = np.sin(angle)
    waves = np.where(labels[:, None] == SQUARE, np.where(sine >= 0, 1.0, -1.0), sine)
    x = waves[:, :, None] + rng.normal(0.0, noise, size=(n, length, features))
    return x, labels.astype(np.int64)


def load_sine_square(n=1000, length=32, noise=0.5, test_size=0.25, seed=0, features=1):
    """Sine or square? ``n`` sequences of ``make_sine_square_sequences``, split into train and test.

    The two parts are generated from two independent streams of ``seed``, each with
    balanced labels. ``test_size`` is a fraction of ``n`` (or a number of sequences).

    Returns a binary ``Dataset`` with x of shape ``(N, length, features)``.
    """
    test_count = int(round(n * test_size)) if isinstance(test_size, float) else int(test_size)
    if not 0 < test_count < n:
        raise ValueError(f"load_sine_square: test_size={test_size} leaves no train or no test sequences of n={n}")
    train_seed, test_seed = np.random.SeedSequence(seed).spawn(2)
    train_x, train_y = make_sine_square_sequences(n - test_count, length, train_seed, noise, features)
    test_x, test_y = make_sine_square_sequences(test_count, length, test_seed, noise, features)
    return Dataset(
        train_x=train_x,
        train_y=train_y,
        test_x=test_x,
        test_y=test_y,
        feature_names=[f"signal_{index}" for index in range(features)] if features > 1 else ["signal"],
        classes=["sine", "square"],
        task="binary",
        name="sine_square",
    )
