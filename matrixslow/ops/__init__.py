"""Operators (every one differentiable, per sample and batched) and, in ``ops.loss``, the losses."""

from . import loss, metrics
from .activation import Logistic, ReLU, SoftMax, Step, Tanh
from .arithmetic import Add, MatMul, Multiply, ScalarMultiply
from .base import Operator
from .conv import Convolve, MaxPooling
from .shape import Concat, Reshape, Sum, Transpose, Welding

__all__ = [
    "Add",
    "Concat",
    "Convolve",
    "Logistic",
    "MatMul",
    "MaxPooling",
    "Multiply",
    "Operator",
    "ReLU",
    "Reshape",
    "ScalarMultiply",
    "SoftMax",
    "Step",
    "Sum",
    "Tanh",
    "Transpose",
    "Welding",
    "loss",
    "metrics",
]
