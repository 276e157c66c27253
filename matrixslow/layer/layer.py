"""The book's layers: fully connected, convolution and pooling, built from operators."""

import numpy as np

from ..core.variable import Variable
from ..ops import Add, Convolve, Logistic, MatMul, MaxPooling, ReLU, ScalarMultiply, Tanh

_ACTIVATIONS = {"ReLU": ReLU, "Logistic": Logistic, "Tanh": Tanh}


def _check_activation(activation):
    """Checked before a layer builds anything, so a typo leaves no half-built layer in the graph."""
    if activation is not None and activation != "None" and activation not in _ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}; expected one of {sorted(_ACTIVATIONS)} or None")


def _activate(node, activation):
    if activation is None or activation == "None":  # the book's chapter 8 writes "None"
        return node
    return _ACTIVATIONS[activation](node)


def fc(input, input_size, size, activation, weights_init=True, bias_init=True):
    """Fully connected layer: activation(W x + b) with W of shape (size, input_size).

    ``input`` is a (input_size, 1) column per sample. W and b start as the
    book's do, drawn from N(0, 0.001) in that order, so a seeded book program
    gets the book's numbers; ``weights_init`` and ``bias_init`` take any
    ``Variable(init=...)`` choice (the model zoo passes "glorot" and "zeros").
    """
    _check_activation(activation)
    weights = Variable((size, input_size), init=weights_init, trainable=True)
    bias = Variable((size, 1), init=bias_init, trainable=True)
    return _activate(Add(MatMul(weights, input), bias), activation)


def conv(feature_maps, input_shape, kernels, kernel_shape, activation, kernel_init=True, bias_init=True):
    """Convolution layer.

    Parameters
    ----------
    feature_maps : list of Node
        Input feature maps, each a matrix of ``input_shape`` per sample.
    input_shape : tuple
        (height, width) of the feature maps.
    kernels : int
        Number of output feature maps.
    kernel_shape : tuple
        (height, width) of each kernel.
    activation : "ReLU", "Logistic", "Tanh" or None
    kernel_init, bias_init : optional
        Any ``Variable(init=...)`` choice; the book's N(0, 0.001) by default,
        drawn in the book's order (each kernel's maps, then its bias).

    Returns
    -------
    list of Node
        ``kernels`` output feature maps of ``input_shape``: each sums one kernel's
        convolution of every input map, plus a scalar bias.
    """
    _check_activation(activation)
    ones = Variable(input_shape, init=False, trainable=False)
    ones.set_value(np.ones(input_shape))
    outputs = []
    for _ in range(kernels):
        channels = [Convolve(fm, Variable(kernel_shape, init=kernel_init, trainable=True)) for fm in feature_maps]
        summed = Add(*channels)
        bias = Variable((1, 1), init=bias_init, trainable=True)
        affine = Add(summed, ScalarMultiply(bias, ones))
        outputs.append(_activate(affine, activation))
    return outputs


def pooling(feature_maps, kernel_shape, stride):
    """Max pooling of every feature map with a ``kernel_shape`` window every ``stride`` pixels."""
    return [MaxPooling(fm, size=kernel_shape, stride=stride) for fm in feature_maps]
