"""The convolutional network (book chapter 8): conv and pooling layers, then fully connected ones."""

from .. import layer
from ..core.scope import name_scope
from ..ops import Concat
from .base import Model
from .blocks import check_pair, check_positive, check_sizes, hidden_layers, input_variable, softmax_head

DEFAULT_POOLING = ((3, 3), (2, 2))


def cnn(input_shape, classes, kernels=(8,), kernel_shape=(3, 3), pooling=DEFAULT_POOLING, hidden=(32,)):
    """A ConvNet classifier for one-channel images, one-hot labels.

    Each entry of ``kernels`` adds a "same" convolution layer with that many
    kernels and ReLU (scope "Conv<i>"), followed by max pooling (scope
    "Pool<i>") unless ``pooling`` is None. The feature maps are then
    Concat'ed into one column (scope "Flatten") and go through the fully
    connected ReLU layers of ``hidden`` ("Hidden<i>") to the output ("Output").
    The defaults suit 8x8 digits: 8 maps of 8x8, pooled to 4x4, 128 values ->
    32 -> classes (one convolution layer learns the digits better and faster than
    two, which pool 8x8 down to 2x2; the book's MNIST network is
    ``kernels=(3, 3), kernel_shape=(5, 5), hidden=(120,)``).

    Parameters
    ----------
    input_shape : (height, width)
        The image, fed to the matrix input "x" of this shape.
    classes : int
    kernels : list of int
        Kernels per convolution layer.
    kernel_shape : (height, width)
    pooling : ((height, width), (stride_h, stride_w)) or None
        The pooling window and stride after every convolution layer.
    hidden : list of int
        Widths of the fully connected hidden layers.
    """
    builder = "cnn"
    height, width = check_pair(builder, "input_shape", input_shape)
    classes = check_positive(builder, "classes", classes)
    kernels = check_sizes(builder, "kernels", kernels)
    kernel_shape = check_pair(builder, "kernel_shape", kernel_shape)
    hidden = check_sizes(builder, "hidden", hidden)
    if pooling is not None:
        if not isinstance(pooling, (tuple, list)) or len(pooling) != 2:
            raise ValueError(f"{builder}: pooling must be (window, stride) or None, got {pooling!r}")
        window = check_pair(builder, "pooling window", pooling[0])
        stride = check_pair(builder, "pooling stride", pooling[1])
    _check_kernels_fit(builder, (height, width), kernels, kernel_shape, pooling)

    x = input_variable((height, width), "x")
    label = input_variable((classes, 1), "label")
    maps, shape = [x], (height, width)
    for index, count in enumerate(kernels, start=1):
        with name_scope(f"Conv{index}"):
            maps = layer.conv(maps, shape, count, kernel_shape, "ReLU", kernel_init="glorot", bias_init="zeros")
        if pooling is not None:
            with name_scope(f"Pool{index}"):
                maps = layer.pooling(maps, window, stride)
            shape = _pooled(shape, stride)
    with name_scope("Flatten"):
        features, size = Concat(*maps), len(maps) * shape[0] * shape[1]
    features, size = hidden_layers(features, size, hidden)
    with name_scope("Output"):
        logits = layer.fc(features, size, classes, None, weights_init="glorot", bias_init="zeros")
    return Model(
        name=builder,
        inputs=[x],
        label=label,
        **softmax_head(logits, label),
    )


def _pooled(shape, stride):
    # MaxPooling places a window every stride pixels: ceil(size / stride) outputs.
    return -(-shape[0] // stride[0]), -(-shape[1] // stride[1])


def _check_kernels_fit(builder, shape, kernels, kernel_shape, pooling):
    """Fail before building anything if a kernel outgrows the (pooled) maps it meets."""
    for index in range(1, len(kernels) + 1):
        if kernel_shape[0] > shape[0] or kernel_shape[1] > shape[1]:
            raise ValueError(f"{builder}: kernel_shape {kernel_shape} is larger than the {shape} maps of Conv{index}")
        if pooling is not None:
            shape = _pooled(shape, pooling[1])
