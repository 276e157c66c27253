"""The windows of a convolution or pooling, read by one gather and added back by one bincount."""

import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view

from matrixslow import ops
from matrixslow.core import Graph, Variable
from matrixslow.ops.conv import first_winners
from matrixslow.ops.windows import add_back, windows

GEOMETRIES = [  # (padded shape, kernel, stride)
    ((2, 6, 6), (3, 3), (1, 1)),
    ((3, 12, 12), (5, 5), (1, 1)),
    ((2, 4, 7, 9), (3, 2), (2, 3)),
    ((5, 4), (2, 2), (2, 2)),
]


def output_shape(padded_shape, kernel, stride):
    return tuple((size - k) // s + 1 for size, k, s in zip(padded_shape[-2:], kernel, stride, strict=True))


@pytest.mark.parametrize(("shape", "kernel", "stride"), GEOMETRIES)
def test_windows_lay_out_sliding_window_views_taps_tap_major(shape, kernel, stride):
    padded = np.random.default_rng(0).random(shape)
    out = output_shape(shape, kernel, stride)
    expected = sliding_window_view(padded, kernel, axis=(-2, -1))[..., :: stride[0], :: stride[1], :, :]
    # (matrices, pixel, tap) -> tap-major (tap, pixel, matrices)
    expected = expected.reshape(-1, out[0] * out[1], kernel[0] * kernel[1]).transpose(2, 1, 0)
    np.testing.assert_array_equal(windows(padded, out, kernel, stride), expected)


@pytest.mark.parametrize(("shape", "kernel", "stride"), GEOMETRIES)
def test_add_back_is_the_adjoint_of_windows(shape, kernel, stride):
    rng = np.random.default_rng(1)
    padded = rng.random(shape)
    out = output_shape(shape, kernel, stride)
    matrices = int(np.prod(shape[:-2]))
    taps = rng.random((kernel[0] * kernel[1], out[0] * out[1], matrices))
    # <windows(x), t> == <x, add_back(t)>: every tap's value lands on the pixel it was read from
    np.testing.assert_allclose(
        np.sum(windows(padded, out, kernel, stride) * taps), np.sum(padded * add_back(taps, shape, kernel, stride))
    )
    # and it is the sum of one shifted add per tap
    expected = np.zeros(shape)
    grid = taps.transpose(2, 1, 0).reshape(shape[:-2] + out + kernel)
    for k in range(kernel[0]):
        for l in range(kernel[1]):
            rows = slice(k, k + stride[0] * (out[0] - 1) + 1, stride[0])
            cols = slice(l, l + stride[1] * (out[1] - 1) + 1, stride[1])
            expected[..., rows, cols] += grid[..., k, l]
    np.testing.assert_allclose(add_back(taps, shape, kernel, stride), expected, rtol=1e-13)


def test_add_back_keeps_float32(graph):
    taps = np.ones((9, 16, 2), dtype=np.float32)
    assert add_back(taps, (2, 6, 6), (3, 3), (1, 1)).dtype == np.float32


def pooled_with_gradient(x_value, size=(3, 3), stride=(2, 2)):
    x = Variable(x_value.shape, trainable=True)
    x.set_value(x_value)
    pooled = ops.MaxPooling(x, size=size, stride=stride)
    pooled.forward()
    return pooled.value, pooled.vjp(0, np.ones_like(pooled.value))


def test_max_pooling_routes_a_tie_to_the_first_pixel_of_the_window_in_row_order(graph):
    value, grad = pooled_with_gradient(np.ones((2, 2)), size=(2, 2), stride=(2, 2))
    assert value.tolist() == [[1.0]]
    assert grad.tolist() == [[1.0, 0.0], [0.0, 0.0]]  # the window centred on (0, 0) starts at (-1, -1): (0, 0)


def test_max_pooling_of_an_all_minus_infinity_window_sends_its_gradient_inside_the_matrix(graph):
    x_value = np.full((3, 3), -np.inf)
    x_value[2, 2] = 5.0
    value, grad = pooled_with_gradient(x_value)
    assert value[0, 0] == -np.inf and value[1, 1] == 5.0
    assert grad.shape == (3, 3) and grad.sum() == value.size  # every output's gradient lands on a real pixel
    assert grad[0, 0] == 1.0  # the -inf window's: on its first pixel inside, here its centre


def loop_pooling_with_gradient(x, size, stride):
    """The book's pooling by loops: each clipped window's max, and a 1 on its first maximum in row order."""
    (kh, kw), (sh, sw) = size, stride
    out_h, out_w = -(-x.shape[0] // sh), -(-x.shape[1] // sw)
    value, grad = np.empty((out_h, out_w)), np.zeros(x.shape)
    for r in range(out_h):
        for c in range(out_w):
            top, left = max(r * sh - kh // 2, 0), max(c * sw - kw // 2, 0)
            window = x[top : r * sh - kh // 2 + kh, left : c * sw - kw // 2 + kw]
            where = np.argmax(window)
            value[r, c] = window.flat[where]
            grad[top + where // window.shape[1], left + where % window.shape[1]] += 1.0
    return value, grad


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(
    ("shape", "size", "stride"),
    [((8, 8), (3, 3), (2, 2)), ((4, 4), (3, 3), (2, 2)), ((7, 5), (2, 4), (3, 1)), ((9, 9), (8, 8), (2, 2)),
     ((6, 6), (5, 5), (1, 1)), ((3, 10), (1, 1), (1, 2))],
)  # fmt: skip
def test_max_pooling_picks_the_first_maximum_of_each_window_as_loops_over_it_do(shape, size, stride, dtype):
    # Few distinct values, so most windows hold ties; the (8, 8) window has 64 taps, past the
    # 52 that the branch-free first winner covers, and (5, 5) holds 25, past float32's exact 24.
    rng = np.random.default_rng(7)
    for _ in range(5):
        x_value = rng.integers(-2, 3, size=shape).astype(dtype)
        with Graph(dtype=dtype):
            value, grad = pooled_with_gradient(x_value, size, stride)
        expected_value, expected_grad = loop_pooling_with_gradient(x_value, size, stride)
        np.testing.assert_array_equal(value, expected_value)
        np.testing.assert_array_equal(grad, expected_grad)
        assert value.dtype == grad.dtype == dtype


def test_max_pooling_with_nan_still_routes_every_gradient_to_a_pixel_of_its_window(graph):
    x_value = np.arange(16.0).reshape(4, 4)
    x_value[0, 1] = np.nan
    value, grad = pooled_with_gradient(x_value)
    assert np.isnan(value[0, 0]) and value[1, 1] == 15.0
    assert grad[0, 1] == 2.0 and grad.sum() == value.size  # the NaN won both windows it lies in, as argmax would


def test_first_winners_matches_argmax_on_ties_in_every_position():
    taps = np.zeros((9, 9))
    taps[np.arange(9), np.arange(9)] = 1.0  # window j's maximum at tap j alone
    taps[:, 4] = 1.0  # window 4: all tied
    np.testing.assert_array_equal(first_winners(taps, taps.max(axis=0)), taps.argmax(axis=0))
