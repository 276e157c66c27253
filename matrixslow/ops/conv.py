"""Convolve and MaxPooling, vectorised over pixels and samples (shifted views, and windows by one gather)."""

from collections import namedtuple
from functools import lru_cache

import numpy as np

from ..core.registry import register_node_type
from .base import Operator
from .windows import gather_tap_major, row_starts


def pad_matrices(x, pad, fill=0.0):
    """Each matrix of ``x`` (the last two axes) surrounded by ``pad`` = ((top, bottom), (left, right)) of ``fill``.

    The same as ``np.pad`` with a constant, which costs more than the copy itself on the
    small feature maps of a CNN step.
    """
    (top, bottom), (left, right) = pad
    height, width = x.shape[-2:]
    padded = np.full(x.shape[:-2] + (top + height + bottom, left + width + right), fill, dtype=x.dtype)
    padded[..., top : top + height, left : left + width] = x
    return padded


def same_padding(kh, kw):
    """((top, bottom), (left, right)) that keeps a "same" convolution's output the input's size."""
    return (kh // 2, kh - 1 - kh // 2), (kw // 2, kw - 1 - kw // 2)


def shifted_views(x, kernel_shape, pad):
    """Every ``(k, l, view)``: the zero-padded ``x`` shifted by kernel offset (k, l), cropped to the output size.

    ``pad`` is ((top, bottom), (left, right)). Output pixel (i, j) sees input pixel
    (i + k, j + l) of the padded matrix through kernel entry (k, l), so view (k, l)
    lines those input pixels up with the output.
    """
    kh, kw = kernel_shape
    padded = pad_matrices(x, pad)
    height, width = padded.shape[-2] - kh + 1, padded.shape[-1] - kw + 1
    for k in range(kh):
        for l in range(kw):
            yield k, l, padded[..., k : k + height, l : l + width]


def correlate(x, kernel, pad):
    """Valid 2-D cross-correlation of each (zero-padded) matrix of ``x`` with ``kernel`` (2-D, or one per sample).

    Kernels are small (9 or 25 entries) and images many, so the output is built as the sum
    of kh * kw shifted copies of the input, each scaled by one kernel entry: whole-array
    multiply-adds, with none of the im2col copy a matrix product over windows would make.
    """
    out = 0.0
    for k, l, view in shifted_views(x, kernel.shape[-2:], pad):
        out = out + view * kernel[..., k, l, None, None]
    return out


@register_node_type
class Convolve(Operator):
    """2-D "same" cross-correlation of a matrix (first parent) with a kernel (second parent).

    out[i, j] = sum_kl x[i + k - kh//2, j + l - kw//2] * kernel[k, l], zero outside x,
    so the output has the input's shape, as in the book.
    """

    def _padding(self):
        return same_padding(*self.parents[1].value.shape[-2:])

    def compute(self):
        self.expect_parents(2)
        x, kernel = self.parents[0].value, self.parents[1].value
        self.check_batches(x, kernel)
        if kernel.shape[-2] > x.shape[-2] or kernel.shape[-1] > x.shape[-1]:
            self.fail(f"kernel {kernel.shape[-2:]} is larger than the input {x.shape[-2:]}")
        self.value = correlate(x, kernel, self._padding())

    def vjp(self, parent_index, grad):
        x, kernel = self.parents[0].value, self.parents[1].value
        (top, bottom), (left, right) = self._padding()
        if parent_index == 0:
            # Each input pixel reached every output pixel through the flipped
            # kernel: the input gradient is the gradient correlated with it.
            flipped = kernel[..., ::-1, ::-1]
            return correlate(grad, flipped, ((bottom, top), (right, left)))
        # Kernel entry (k, l) met input view (k, l) at every output pixel, so its gradient is the sum of
        # grad * view (k, l). The kh * kw views, flattened and stacked as rows, make one matrix product
        # with the flattened grad: one call instead of kh * kw multiply-and-sums (1.4-2.7x faster on a CNN's
        # small images). Per sample; a shared kernel's gradient is then summed over the batch by autodiff.
        kh, kw = kernel.shape[-2:]
        height, width = grad.shape[-2:]
        views = [view for _, _, view in shifted_views(x, (kh, kw), self._padding())]
        rows = np.stack(views, axis=-3).reshape(*x.shape[:-2], kh * kw, height * width)
        return (rows @ grad.reshape(*grad.shape[:-2], height * width, 1)).reshape(*grad.shape[:-2], kh, kw)


@register_node_type
class MaxPooling(Operator):
    """Maximum over a ``size`` window placed every ``stride`` pixels.

    As in the book, the window of output (r, c) is centred on input pixel
    (r * stride_h, c * stride_w) and clipped at the borders, so the output has
    ceil(H / stride_h) x ceil(W / stride_w) pixels. A tie goes to the window's
    first pixel in row order, as the book's ``np.argmax`` did.
    """

    def __init__(self, *parents, size, stride, **kargs):
        size, stride = _pair("size", size), _pair("stride", stride)
        super().__init__(*parents, size=size, stride=stride, **kargs)
        self.size, self.stride = size, stride
        self._argmax = None

    def compute(self):
        self.expect_parents(1)
        x = self.parents[0].value
        geometry = pooling_geometry(x.shape[-2:], self.size, self.stride)
        # Tap-major, (taps, output pixels, matrices): the max over taps is then an elementwise maximum of
        # whole rows, with none of the data-dependent branching of an argmax over each short window.
        taps = gather_tap_major(x, geometry.reads)
        maxima = taps.max(axis=0)
        winners = first_winners(taps, maxima)
        out_shape = x.shape[:-2] + geometry.out_shape
        self._argmax = winners.T.reshape(out_shape)
        self.value = maxima.T.reshape(out_shape)

    def vjp(self, parent_index, grad):
        # Route each output's gradient to the input pixel that won its window;
        # bincount adds up pixels that won several (overlapping) windows.
        x = self.parents[0].value
        geometry = pooling_geometry(x.shape[-2:], self.size, self.stride)
        pixels = x.shape[-2] * x.shape[-1]
        winners = self._argmax.reshape(-1, geometry.out_shape[0] * geometry.out_shape[1])
        won = np.take(geometry.reads, winners * winners.shape[1] + geometry.pixel_numbers)  # in each matrix
        index = won + row_starts(len(won), pixels)[:, None]  # then each matrix's pixels after the last's
        flat = np.bincount(index.ravel(), weights=grad.ravel(), minlength=x.size)
        return flat.reshape(x.shape).astype(grad.dtype, copy=False)


def first_winners(taps, maxima):
    """For each window (axis 0 of ``taps`` its taps), the first tap that holds its maximum.

    Branch-free: tap t of T scores 2 ** (T - 1 - t) when it equals the maximum, the scores are summed
    by one matrix product, and the first winner is then the highest set bit, read off by ``frexp``. Exact
    while the sum fits float64's 53-bit mantissa; beyond that, or with a NaN (equal to nothing), argmax.
    """
    count = len(taps)
    if count <= 52:
        flat = (taps == maxima).reshape(count, -1)
        scores = _tap_scores(count, np.float32 if taps.dtype == np.float32 and count <= 24 else np.float64) @ flat
        if scores.all():
            return (count - np.frexp(scores)[1]).reshape(maxima.shape)
    return taps.argmax(axis=0)


@lru_cache(maxsize=64)
def _tap_scores(count, dtype):
    scores = (2.0 ** np.arange(count - 1, -1, -1)).astype(dtype)
    scores.flags.writeable = False
    return scores


PoolingGeometry = namedtuple("PoolingGeometry", "out_shape reads pixel_numbers")


@lru_cache(maxsize=128)
def pooling_geometry(shape, size, stride):
    """Where MaxPooling's windows lie on a (height, width) input: see the class docstring.

    ``reads[t, p]`` is the input pixel that tap t of output pixel p reads (row-major, tap-major). A tap
    outside the matrix reads the window's first pixel inside instead, the one a tie would pick anyway:
    a repeat changes neither the maximum nor which pixel wins it, and no padding is needed. The first
    pixel inside always exists, as the window's centre lies inside. ``pixel_numbers`` is 0, 1, ... P - 1.
    """
    (height, width), (kh, kw), (sh, sw) = shape, size, stride
    out_h, out_w = -(-height // sh), -(-width // sw)
    top, left = kh // 2, kw // 2
    rows = np.arange(out_h)[:, None, None, None] * sh + np.arange(kh)[None, None, :, None] - top
    cols = np.arange(out_w)[None, :, None, None] * sw + np.arange(kw)[None, None, None, :] - left
    rows, cols = np.broadcast_arrays(rows, cols)
    rows, cols = rows.reshape(out_h * out_w, kh * kw), cols.reshape(out_h * out_w, kh * kw)
    inside = (rows >= 0) & (rows < height) & (cols >= 0) & (cols < width)
    pixels = rows * width + cols
    first_inside = pixels[np.arange(len(pixels)), inside.argmax(axis=1)]
    reads = np.ascontiguousarray(np.where(inside, pixels, first_inside[:, None]).T)
    pixel_numbers = np.arange(out_h * out_w)
    for array in (reads, pixel_numbers):
        array.flags.writeable = False
    return PoolingGeometry((out_h, out_w), reads, pixel_numbers)


def _pair(field, value):
    if not (isinstance(value, (tuple, list)) and len(value) == 2 and all(int(v) == v and v > 0 for v in value)):
        raise ValueError(f"MaxPooling: {field} must be two positive ints, got {value!r}")
    return (int(value[0]), int(value[1]))
