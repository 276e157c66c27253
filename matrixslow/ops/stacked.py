"""Stacked kernels: how a compiled plan computes a group of parallel nodes at once (see core/fusion.py).

Most operators need nothing new: their own ``compute`` and ``vjp`` broadcast over a
leading axis, so they run once on the stacked arrays. Convolve gets a kernel of its
own, the classic im2col: the image's windows laid out once as rows, all the layer's
kernels applied to them by one matrix product, forward and backward.
"""

from ..core.fusion import SHARED, STACKED_LEAVES, register_group_reader, register_stacked_kernel
from .activation import Logistic, ReLU, Tanh
from .arithmetic import Add, MatMul, Multiply, ScalarMultiply
from .conv import Convolve, MaxPooling, pad_matrices, same_padding
from .products import grad_left, grad_right, matmul
from .shape import Concat
from .windows import add_back, windows


class _Held:
    """A stand-in parent: just a value, for the group's proxy node to read."""

    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value


class OwnOperator:
    """The operator's own compute and vjp, run once on the stacked arrays.

    By its ``replay`` where it has one: every member passed the operator's shape checks on the
    plan's first walk, and the stacked arrays broadcast as the members' values do.
    """

    def accepts(self, slot_kinds):
        return True

    def forward(self, group, values):
        proxy = group.proxy
        proxy.parents = [_Held(value) for value in values]
        (proxy.replay or proxy.compute)()
        return proxy.value

    def vjp(self, group, slot, grad):
        return group.proxy.vjp(slot, grad)


class MaxPoolingKernel(OwnOperator):
    """MaxPooling's own, plus each member's winning positions: its own ``vjp`` may run later, unfused."""

    def forward(self, group, values):
        value = super().forward(group, values)
        for member, argmax in zip(group.members, group.proxy._argmax, strict=True):
            member._argmax = argmax
        return value


class MatMulKernel(OwnOperator):
    """A weight shared by every branch times a stack of batches: the branches folded into the batch, one GEMM."""

    def forward(self, group, values):
        weight, stacked = values
        if weight.ndim != 2 or stacked.ndim != 4:
            group.saved["folded"] = None
            return super().forward(group, values)
        branches, batch = stacked.shape[:2]
        folded = group.saved["folded"] = stacked.reshape(branches * batch, *stacked.shape[2:])
        return matmul(weight, folded).reshape(branches, batch, weight.shape[0], stacked.shape[3])

    def vjp(self, group, slot, grad):
        folded = group.saved["folded"]
        if folded is None:  # the operator's own forward ran: so does its own vjp
            return super().vjp(group, slot, grad)
        weight = group.members[0].parents[0].value
        folded_grad = grad.reshape(-1, *grad.shape[2:])
        if slot == 0:
            return grad_left(weight, folded, folded_grad)
        return grad_right(weight, folded, folded_grad).reshape(grad.shape[:2] + folded.shape[1:])


class ConvolveKernel:
    """All the kernels that read one image, as one product with the image's windows (im2col)."""

    def accepts(self, slot_kinds):
        return slot_kinds == [SHARED, STACKED_LEAVES]  # one image, a trainable kernel each

    def forward(self, group, values):
        image, kernels = values
        kh, kw = kernels.shape[-2:]
        # (taps, pixels, samples): one column per output pixel of every sample (the one copy), one row per kernel
        taps = windows(pad_matrices(image, same_padding(kh, kw)), image.shape[-2:], (kh, kw), (1, 1))
        columns = group.saved["columns"] = taps.reshape(kh * kw, -1)
        kernel_rows = group.saved["kernel_rows"] = kernels.reshape(group.size, kh * kw)
        pixels = image.shape[-2] * image.shape[-1]
        by_pixel = (kernel_rows @ columns).reshape(group.size, pixels, -1)
        return by_pixel.transpose(0, 2, 1).reshape(group.size, *image.shape)

    def vjp(self, group, slot, grad):
        image = group.members[0].parents[0].value
        pixels = image.shape[-2] * image.shape[-1]
        # the gradient laid out as the columns are: (kernel, pixel, sample)
        by_pixel = grad.reshape(group.size, -1, pixels).transpose(0, 2, 1).reshape(group.size, -1)
        if slot == 1:  # kernel entry (k, l) met window entry (k, l) at every output pixel
            return by_pixel @ group.saved["columns"].T
        kh, kw = group.members[0].parents[1].value.shape
        window_grads = group.saved["kernel_rows"].T @ by_pixel
        # Each window entry's gradient goes back to the pixel it was read from (col2im).
        (top, _), (left, _) = same_padding(kh, kw)
        height, width = image.shape[-2:]
        padded = add_back(window_grads, image.shape[:-2] + (height + kh - 1, width + kw - 1), (kh, kw), (1, 1))
        return padded[..., top : top + height, left : left + width]


class ConcatOfGroup:
    """Concat of every member of one group, in order: the stacked value, flattened sample by sample."""

    def forward(self, node, stacked):
        if stacked.ndim == 4:  # (members, samples, rows, cols) -> (samples, members * rows * cols, 1)
            return stacked.transpose(1, 0, 2, 3).reshape(stacked.shape[1], -1, 1)
        return stacked.reshape(-1, 1)

    def backward(self, node, grad, stacked_shape):
        if len(stacked_shape) == 4:
            members, samples, rows, cols = stacked_shape
            return grad.reshape(samples, members, rows, cols).transpose(1, 0, 2, 3)
        return grad.reshape(stacked_shape)


for operator in (Add, Multiply, ScalarMultiply, ReLU, Logistic, Tanh):
    register_stacked_kernel(operator, OwnOperator())
register_stacked_kernel(MaxPooling, MaxPoolingKernel())
register_stacked_kernel(MatMul, MatMulKernel())
register_stacked_kernel(Convolve, ConvolveKernel())
register_group_reader(Concat, ConcatOfGroup())
