"""The windows of a convolution or pooling, read by one gather and added back by one bincount."""

import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view

from matrixslow import ops
from matrixslow.core import Variable
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
def test_windows_lay_out_each_output_pixels_taps_as_sliding_window_view_does(shape, kernel, stride):
    padded = np.random.default_rng(0).random(shape)
    out = output_shape(shape, kernel, stride)
    expected = sliding_window_view(padded, kernel, axis=(-2, -1))[..., :: stride[0], :: stride[1], :, :]
    expected = expected.reshape(shape[:-2] + (out[0] * out[1], kernel[0] * kernel[1]))
    np.testing.assert_array_equal(windows(padded, out, kernel, stride), expected)


@pytest.mark.parametrize(("shape", "kernel", "stride"), GEOMETRIES)
def test_add_back_is_the_adjoint_of_windows(shape, kernel, stride):
    rng = np.random.default_rng(1)
    padded = rng.random(shape)
    out = output_shape(shape, kernel, stride)
    taps = rng.random(shape[:-2] + (out[0] * out[1], kernel[0] * kernel[1]))
    # <windows(x), t> == <x, add_back(t)>: every tap's value lands on the pixel it was read from
    np.testing.assert_allclose(
        np.sum(windows(padded, out, kernel, stride) * taps), np.sum(padded * add_back(taps, shape, kernel, stride))
    )
    # and it is the sum of one shifted add per tap
    expected = np.zeros(shape)
    grid = taps.reshape(shape[:-2] + out + kernel)
    for k in range(kernel[0]):
        for l in range(kernel[1]):
            rows = slice(k, k + stride[0] * (out[0] - 1) + 1, stride[0])
            cols = slice(l, l + stride[1] * (out[1] - 1) + 1, stride[1])
            expected[..., rows, cols] += grid[..., k, l]
    np.testing.assert_allclose(add_back(taps, shape, kernel, stride), expected, rtol=1e-13)


def test_add_back_keeps_float32(graph):
    taps = np.ones((2, 16, 9), dtype=np.float32)
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
    assert grad[0, 0] == 1.0  # the -inf window's: on its centre
