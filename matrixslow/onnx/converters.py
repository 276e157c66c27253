"""One converter per operator: the ONNX nodes that compute it, in a registry (operator class -> converter).

A converter gets the emitter, the matrixslow node (for its settings), its parents' tensors
and the name its output must have; it emits the nodes and returns one sample's output shape.
Tensors keep the engine's layouts, (batch, rows, cols) or a shared (rows, cols) (see
``Tensor``), so converters work on the last two axes and let ONNX broadcast the rest.
"""

import numpy as np

from ..ops import (
    Add,
    Concat,
    Convolve,
    Logistic,
    MatMul,
    MaxPooling,
    Multiply,
    ReLU,
    Reshape,
    ScalarMultiply,
    SoftMax,
    Step,
    Sum,
    Tanh,
    Transpose,
    Welding,
)

CONVERTERS = {}

SAMPLE_AXES = [-2, -1]  # one sample's matrix, batched or not


def converts(*operators):
    """Decorator: register the function as the converter of ``operators``."""

    def register(function):
        for operator in operators:
            CONVERTERS[operator] = function
        return function

    return register


def names(tensors):
    return [tensor.name for tensor in tensors]


# -- sums and products -----------------------------------------------------------------------------


@converts(Add)
def add(emit, node, parents, out):
    emit.op("Sum", names(parents), out)
    return parents[0].shape


@converts(MatMul)
def matmul(emit, node, parents, out):
    # ONNX MatMul broadcasts a shared matrix over the other operand's batch, as the engine's matmul does.
    a, b = parents
    emit.op("MatMul", names(parents), out)
    return (a.shape[0], b.shape[1])


@converts(Multiply)
def multiply(emit, node, parents, out):
    emit.op("Mul", names(parents), out)
    return parents[0].shape


@converts(ScalarMultiply)
def scalar_multiply(emit, node, parents, out):
    emit.op("Mul", names(parents), out)  # the (1, 1) scalar broadcasts over the matrix
    return parents[1].shape


# -- activations -------------------------------------------------------------------------------------


def elementwise(op_type):
    """The converter of an operator that is one ONNX operator applied to every element."""

    def convert(emit, node, parents, out):
        (x,) = parents
        emit.op(op_type, [x.name], out)
        return x.shape

    return convert


CONVERTERS[Logistic] = elementwise("Sigmoid")
CONVERTERS[Tanh] = elementwise("Tanh")
CONVERTERS[Welding] = elementwise("Identity")  # welded now: the export keeps the current weld


@converts(ReLU)
def relu(emit, node, parents, out):
    # The engine's np.where(x > 0, x, nslope * x), spelled out: onnxruntime has no float64 LeakyRelu.
    (x,) = parents
    positive = emit.op("Greater", [x.name, emit.constant(0.0)])
    emit.op("Where", [positive, x.name, emit.op("Mul", [x.name, emit.constant(node.nslope)])], out)
    return x.shape


@converts(Step)
def step(emit, node, parents, out):
    (x,) = parents
    emit.op("Cast", [emit.op("GreaterOrEqual", [x.name, emit.constant(0.0)])], out, to=emit.elem_type)
    return x.shape


@converts(SoftMax)
def softmax(emit, node, parents, out):
    # Over all elements of each sample's matrix, minus its maximum first, as the engine does;
    # ONNX Softmax normalises along one axis only.
    (x,) = parents
    axes = emit.shape_constant(SAMPLE_AXES)
    largest = emit.op("ReduceMax", [x.name, axes], keepdims=1)
    exp = emit.op("Exp", [emit.op("Sub", [x.name, largest])])
    emit.op("Div", [exp, emit.op("ReduceSum", [exp, axes], keepdims=1)], out)
    return x.shape


# -- shapes ------------------------------------------------------------------------------------------


@converts(Reshape)
def reshape(emit, node, parents, out):
    (x,) = parents
    rows, cols = node.to_shape
    shape = [0, rows, cols] if x.batched else [rows, cols]  # 0: keep the batch size, whatever it is
    emit.op("Reshape", [x.name, emit.shape_constant(shape)], out)
    return node.to_shape


@converts(Transpose)
def transpose(emit, node, parents, out):
    (x,) = parents
    emit.op("Transpose", [x.name], out, perm=[0, 2, 1] if x.batched else [1, 0])
    return x.shape[::-1]


@converts(Sum)
def sum_(emit, node, parents, out):
    (x,) = parents
    emit.op("ReduceSum", [x.name, emit.shape_constant(SAMPLE_AXES)], out, keepdims=1)
    return (1, 1)


@converts(Concat)
def concat(emit, node, parents, out):
    batched = next((tensor for tensor in parents if tensor.batched), None)
    emit.op("Concat", [_column(emit, tensor, batched) for tensor in parents], out, axis=-2)
    return (sum(rows * cols for rows, cols in (tensor.shape for tensor in parents)), 1)


def _column(emit, tensor, batched):
    """``tensor`` flattened row by row into a column; with a ``batched`` parent, one column per sample."""
    size = tensor.shape[0] * tensor.shape[1]
    if batched is None:
        return emit.op("Reshape", [tensor.name, emit.shape_constant([size, 1])])
    if tensor.batched:
        return emit.op("Reshape", [tensor.name, emit.shape_constant([0, size, 1])])
    # A shared parent is repeated for every sample, as the engine broadcasts it.
    column = emit.op("Reshape", [tensor.name, emit.shape_constant([1, size, 1])])
    batch = emit.op("Shape", [batched.name], start=0, end=1)
    shape = emit.op("Concat", [batch, emit.shape_constant([size, 1])], axis=0)
    return emit.op("Expand", [column, shape])


# -- convolution and pooling -------------------------------------------------------------------------


@converts(Convolve)
def convolve(emit, node, parents, out):
    x, kernel = parents
    kh, kw = kernel.shape
    pads = [kh // 2, kw // 2, kh - 1 - kh // 2, kw - 1 - kw // 2]  # top, left, bottom, right: "same" output
    if emit.dtype == np.float32 and not kernel.batched:
        weights = emit.op("Reshape", [kernel.name, emit.shape_constant([1, 1, kh, kw])])
        _one_channel(emit, "Conv", x, out, [weights], pads=pads)
    else:
        _shifted_sum(emit, x, kernel, pads, out)
    return x.shape


def _shifted_sum(emit, x, kernel, pads, out):
    """The engine's own algorithm: the sum over kernel entries (k, l) of entry (k, l) times the shifted padded input.

    For what ONNX Conv cannot take: float64 (onnxruntime has no float64 Conv) and a kernel
    per sample (Conv's weights have no batch axis).
    """
    (kh, kw), (height, width) = kernel.shape, x.shape
    axes = emit.shape_constant(SAMPLE_AXES)
    padded = emit.op("Pad", [x.name, emit.shape_constant(pads), "", axes])
    terms = []
    for k in range(kh):
        for l in range(kw):
            start = emit.shape_constant([k, l])
            view = emit.op("Slice", [padded, start, emit.shape_constant([k + height, l + width]), axes])
            entry = emit.op("Slice", [kernel.name, start, emit.shape_constant([k + 1, l + 1]), axes])
            terms.append(emit.op("Mul", [view, entry]))
    emit.op("Sum", terms, out)


@converts(MaxPooling)
def max_pooling(emit, node, parents, out):
    # The engine centres window (r, c) on pixel (r * stride_h, c * stride_w); padding the top and left by
    # half a window, and the bottom and right up to the last window, gives MaxPool the same windows
    # (its padding never wins a maximum, like the engine's -inf).
    (x,) = parents
    (kh, kw), (sh, sw) = node.size, node.stride
    height, width = x.shape
    out_h, out_w = -(-height // sh), -(-width // sw)
    bottom = max(0, (out_h - 1) * sh + kh - kh // 2 - height)
    right = max(0, (out_w - 1) * sw + kw - kw // 2 - width)
    pads = [kh // 2, kw // 2, bottom, right]
    _one_channel(emit, "MaxPool", x, out, [], kernel_shape=[kh, kw], strides=[sh, sw], pads=pads)
    return (out_h, out_w)


def _one_channel(emit, op_type, x, out, others, **attributes):
    """Run a 2-D ONNX image operator on ``x`` as images of one channel (``others``: its other inputs).

    ONNX images are (N, C, H, W): a batch gains a channel axis, a shared matrix a batch axis too,
    and both lose them again after the operator.
    """
    axes = emit.shape_constant([1] if x.batched else [0, 1])
    images = emit.op("Unsqueeze", [x.name, axes])
    result = emit.op(op_type, [images, *others], **attributes)
    emit.op("Squeeze", [result, axes], out)
