"""Every window of a batch of matrices, read by one precomputed gather.

A convolution or pooling reads, for each output pixel, the input pixels under its
window (its "taps"). ``sliding_window_view`` describes them as strides, but slicing
and copying that view costs tens of microseconds of Python on a CNN's small maps.
The positions never change for a given geometry, so they are worked out once as a
flat index array, and each step's windows are then one ``np.take``: a single copy,
laid out as (tap, output pixel, matrix), row-major in both pixel and tap.
"""

from functools import lru_cache

import numpy as np


@lru_cache(maxsize=128)
def tap_positions(out_shape, kernel_shape, stride, padded_width):
    """Flat positions, in a padded matrix of ``padded_width`` columns, of every output pixel's taps.

    Output pixel (i, j) of a window ``kernel_shape`` placed every ``stride`` pixels reads
    padded pixel (i * stride_h + k, j * stride_w + l) through tap (k, l). Read-only, as it
    is cached and shared.
    """
    (out_h, out_w), (kh, kw), (sh, sw) = out_shape, kernel_shape, stride
    rows = np.arange(out_h)[:, None, None, None] * sh + np.arange(kh)[None, None, :, None]
    cols = np.arange(out_w)[None, :, None, None] * sw + np.arange(kw)[None, None, None, :]
    positions = (rows * padded_width + cols).ravel()
    positions.flags.writeable = False
    return positions


def windows(padded, out_shape, kernel_shape, stride):
    """The taps of every output pixel of each matrix of ``padded``, tap-major: (kh * kw, out_h * out_w, matrices).

    Tap-major because the gather then copies whole rows of the matrices-last view (each tap of
    each pixel for every matrix at once), 1.4-1.5x faster than copying each matrix's windows in turn,
    and a kernel's product with the taps is one GEMM over all pixels of all matrices.
    """
    positions = tap_positions(out_shape, kernel_shape, stride, padded.shape[-1])
    taps_per_pixel = kernel_shape[0] * kernel_shape[1]
    return gather_tap_major(padded, positions.reshape(-1, taps_per_pixel).T)


def gather_tap_major(matrices, reads):
    """``matrices[..., pixel]`` at every (tap, output pixel) of ``reads`` (flat pixel numbers), as (tap, pixel, matrix).

    Read from the matrices-last view, each entry of ``reads`` copies one whole row: every matrix's
    pixel at once, where gathering each matrix's windows in turn copies a few numbers per index.
    """
    height, width = matrices.shape[-2:]
    return np.take(matrices.reshape(-1, height * width).T, reads, axis=0)


@lru_cache(maxsize=128)
def row_starts(rows, row_length):
    """0, row_length, 2 * row_length, ...: where each of ``rows`` rows begins in their flat array (read-only)."""
    starts = np.arange(rows) * row_length
    starts.flags.writeable = False
    return starts


def add_back(taps, padded_shape, kernel_shape, stride):
    """The adjoint of ``windows``: every tap's value added into the padded pixel it was read from.

    ``taps`` is (kh * kw, output pixels, matrices) as ``windows`` returns it, and the result has
    ``padded_shape``. One ``bincount`` over a cached index does what would otherwise be
    kh * kw shifted adds, as taps of neighbouring windows land on the same pixel.
    """
    height, width = padded_shape[-2:]
    matrices = int(np.prod(padded_shape[:-2]))
    (kh, kw), (sh, sw) = kernel_shape, stride
    out_shape = ((height - kh) // sh + 1, (width - kw) // sw + 1)
    index = _scatter_index(matrices, out_shape, kernel_shape, stride, width, height * width)
    summed = np.bincount(index, weights=taps.ravel(), minlength=matrices * height * width)
    return summed.reshape(padded_shape).astype(taps.dtype, copy=False)


@lru_cache(maxsize=32)
def _scatter_index(matrices, out_shape, kernel_shape, stride, padded_width, padded_pixels):
    # the flat padded pixel of every (tap, output pixel, matrix), in the order windows() lays them out
    positions = tap_positions(out_shape, kernel_shape, stride, padded_width)
    by_tap = positions.reshape(-1, kernel_shape[0] * kernel_shape[1]).T
    index = (by_tap[:, :, None] + row_starts(matrices, padded_pixels)[None, None, :]).ravel()
    index.flags.writeable = False
    return index
