"""Noisy sine and square waves: shapes, balance, the waves' shapes and that the task can be learned."""

import numpy as np
import pytest

from matrixslow import datasets
from matrixslow.datasets import make_sine_square_sequences


def mean_absolute_value(x):
    """A sine spends time near zero (mean |sin| = 2/pi), a square wave never does (mean 1)."""
    return np.abs(x[:, :, 0]).mean(axis=1)


def test_shapes_dtypes_and_exact_balance():
    x, y = make_sine_square_sequences(101, length=20, seed=3, noise=0.1, features=2)
    assert x.shape == (101, 20, 2) and x.dtype == np.float64
    assert y.shape == (101,) and y.dtype == np.int64
    assert set(y) == {0, 1} and y.sum() == 50
    assert not np.isnan(x).any()


def test_same_seed_same_sequences_other_seed_other_sequences():
    first = make_sine_square_sequences(50, seed=7)
    again = make_sine_square_sequences(50, seed=7)
    other = make_sine_square_sequences(50, seed=8)
    np.testing.assert_array_equal(first[0], again[0])
    np.testing.assert_array_equal(first[1], again[1])
    assert not np.allclose(first[0], other[0])


def test_without_noise_squares_are_plus_minus_one_and_sines_are_sinusoids():
    x, y = make_sine_square_sequences(60, length=40, seed=1, noise=0.0)
    squares, sines = x[y == 1, :, 0], x[y == 0, :, 0]
    assert set(np.unique(squares)) == {-1.0, 1.0}
    # A sampled sinusoid obeys x[t-1] + x[t+1] = 2 cos(w) x[t], with w = 2 pi cycles / T, 1 <= cycles <= 3.
    for wave in sines:
        assert np.abs(wave).max() <= 1.0 and np.abs(wave).max() > 0.9
        middle = np.abs(wave[1:-1]) > 0.2
        ratio = ((wave[:-2] + wave[2:]) / wave[1:-1])[middle]
        np.testing.assert_allclose(ratio, ratio[0], atol=1e-9)
        assert 2 * np.cos(2 * np.pi * 3 / 40) - 1e-9 <= ratio[0] <= 2 * np.cos(2 * np.pi * 1 / 40) + 1e-9


def test_noise_has_the_requested_standard_deviation():
    x, y = make_sine_square_sequences(200, length=50, seed=2, noise=0.1)
    squares = x[y == 1, :, 0]
    residual = squares - np.sign(squares)  # noise of 0.1 never flips the sign of +-1
    assert residual.std() == pytest.approx(0.1, rel=0.05)
    assert abs(residual.mean()) < 0.01


def test_a_simple_feature_separates_sine_from_square_well_above_chance():
    waves = datasets.load_sine_square(n=600, seed=4)
    train_feature, test_feature = mean_absolute_value(waves.train_x), mean_absolute_value(waves.test_x)
    threshold = (train_feature[waves.train_y == 0].mean() + train_feature[waves.train_y == 1].mean()) / 2
    accuracy = np.mean((test_feature > threshold) == (waves.test_y == 1))
    assert accuracy > 0.85


def test_load_sine_square_splits_into_balanced_independent_parts():
    waves = datasets.load_sine_square(n=400, length=16, test_size=0.25, seed=0)
    assert waves.train_x.shape == (300, 16, 1) and waves.test_x.shape == (100, 16, 1)
    assert waves.task == "binary" and waves.classes == ["sine", "square"]
    assert waves.train_y.sum() == 150 and waves.test_y.sum() == 50
    assert not np.isin(waves.test_x[:, 0, 0], waves.train_x[:, 0, 0]).any()
    again = datasets.load_sine_square(n=400, length=16, seed=0)
    np.testing.assert_array_equal(waves.test_x, again.test_x)
    assert waves.flattened().train_x.shape == (300, 16)


def test_a_split_without_train_or_test_part_is_refused():
    with pytest.raises(ValueError, match="no train or no test"):
        datasets.load_sine_square(n=10, test_size=0.01)
