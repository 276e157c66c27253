"""Operators (every one differentiable, per sample and batched), the losses and the metrics.

As in the book, the losses and metrics are also here by name: ``ms.ops.LogLoss``
is ``ms.ops.loss.LogLoss`` and ``ms.ops.Accuracy`` is ``ms.ops.metrics.Accuracy``.
"""

from . import loss, metrics
from . import stacked as _stacked  # noqa: F401  (the compiled plan's fused kernels, registered on import)
from .activation import Logistic, ReLU, SoftMax, Step, Tanh
from .arithmetic import Add, MatMul, Multiply, ScalarMultiply
from .base import Operator
from .conv import Convolve, MaxPooling
from .loss import CrossEntropyWithSoftMax, LogLoss, LossFunction, MeanSquaredError, PerceptionLoss
from .metrics import ROC, ROC_AUC, Accuracy, F1Score, Metrics, Precision, Recall
from .shape import Concat, Reshape, Sum, Transpose, Welding

__all__ = [
    "ROC",
    "ROC_AUC",
    "Accuracy",
    "Add",
    "Concat",
    "Convolve",
    "CrossEntropyWithSoftMax",
    "F1Score",
    "LogLoss",
    "Logistic",
    "LossFunction",
    "MatMul",
    "MaxPooling",
    "MeanSquaredError",
    "Metrics",
    "Multiply",
    "Operator",
    "PerceptionLoss",
    "Precision",
    "ReLU",
    "Recall",
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
