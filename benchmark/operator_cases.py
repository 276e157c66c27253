"""Every operator and loss, built at a given size for a forward+backward benchmark.

A case builds one operator on a batch of ``BATCH`` samples of n x n matrices (or the natural
shape for the operator: a 3x3 kernel, a column for Reshape's output), in a fresh graph, and
returns ``(graph, target, inputs)``. Data inputs are batches; parameters (weights, kernels,
scalars) are one shared matrix, as in a model. tests/benchmark/test_operator_cases.py checks that
every operator of reference_checks/operator_cases.py has a case here.
"""

from dataclasses import dataclass

import numpy as np

import matrixslow as ms
from matrixslow import ops
from matrixslow.core.autodiff import backward
from matrixslow.ops import loss

BATCH = 32


class Inputs:
    """Makes a case's Variables: ``data`` is a batch, ``param`` one shared trainable matrix."""

    def __init__(self, rng):
        self.rng, self.created = rng, []

    def data(self, dim, values=None):
        variable = ms.Variable(dim=dim, init=False, trainable=False)
        variable.set_value(self.rng.standard_normal((BATCH, *dim)) if values is None else values)
        self.created.append(variable)
        return variable

    def param(self, dim):
        variable = ms.Variable(dim=dim, init=False, trainable=True)
        variable.set_value(self.rng.standard_normal(dim))
        self.created.append(variable)
        return variable

    def one_hot(self, dim):
        labels = np.zeros((BATCH, dim[0] * dim[1]))
        labels[np.arange(BATCH), self.rng.integers(0, dim[0] * dim[1], BATCH)] = 1.0
        return self.data(dim, labels.reshape(BATCH, *dim))


def _welded(x):
    welding = ops.Welding()
    welding.weld(x)
    return welding


# operator -> build(make: Inputs, n: int) -> target
BUILDS = {
    ops.Add: lambda make, n: ops.Add(make.data((n, n)), make.param((n, n))),
    ops.MatMul: lambda make, n: ops.MatMul(make.param((n, n)), make.data((n, n))),
    ops.Multiply: lambda make, n: ops.Multiply(make.data((n, n)), make.param((n, n))),
    ops.ScalarMultiply: lambda make, n: ops.ScalarMultiply(make.param((1, 1)), make.data((n, n))),
    ops.Logistic: lambda make, n: ops.Logistic(make.data((n, n))),
    ops.ReLU: lambda make, n: ops.ReLU(make.data((n, n))),
    ops.Tanh: lambda make, n: ops.Tanh(make.data((n, n))),
    ops.Step: lambda make, n: ops.Step(make.data((n, n))),
    ops.SoftMax: lambda make, n: ops.SoftMax(make.data((n, n))),
    ops.Reshape: lambda make, n: ops.Reshape(make.data((n, n)), shape=(n * n, 1)),
    ops.Transpose: lambda make, n: ops.Transpose(make.data((n, n))),
    ops.Sum: lambda make, n: ops.Sum(make.data((n, n))),
    ops.Concat: lambda make, n: ops.Concat(make.data((n, n)), make.data((n, n))),
    ops.Welding: lambda make, n: _welded(make.data((n, n))),
    ops.Convolve: lambda make, n: ops.Convolve(make.data((n, n)), make.param((3, 3))),
    ops.MaxPooling: lambda make, n: ops.MaxPooling(make.data((n, n)), size=(3, 3), stride=(2, 2)),
    loss.LogLoss: lambda make, n: loss.LogLoss(
        make.data((n, n)), make.data((n, n), make.rng.integers(0, 2, (BATCH, n, n)).astype(float))
    ),
    loss.CrossEntropyWithSoftMax: lambda make, n: loss.CrossEntropyWithSoftMax(make.data((n, n)), make.one_hot((n, n))),
    loss.PerceptionLoss: lambda make, n: loss.PerceptionLoss(make.data((n, n))),
    loss.MeanSquaredError: lambda make, n: loss.MeanSquaredError(make.data((n, n)), make.data((n, n))),
}


@dataclass(frozen=True)
class OperatorCase:
    operator: type
    size: int

    @property
    def name(self):
        return self.operator.__name__

    def build(self, seed=0):
        """A fresh graph holding the operator; returns ``(graph, target, inputs)``."""
        make = Inputs(np.random.default_rng(seed))
        with ms.core.Graph() as graph:
            target = BUILDS[self.operator](make, self.size)
        return graph, target, make.created


def forward_backward(target, inputs):
    """A () -> gradients that recomputes ``target``'s value, then its gradient to every input."""

    def run():
        target.reset_value(recursive=False)  # the inputs keep their values; only the operator recomputes
        return backward(target, wrt=inputs)

    return run


def cases(sizes):
    return [OperatorCase(operator, size) for operator in BUILDS for size in sizes]
