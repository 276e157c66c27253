"""Every operator, with a plain-NumPy reference for one sample and the kinds of values it takes.

The tests of values, gradients and batches all run over this table. Each
reference is written from the operator's definition (the book's), one sample
(a 2-D matrix) at a time, without the engine's vectorised tricks.
"""

from dataclasses import dataclass, field

import numpy as np

from matrixslow import ops
from matrixslow.ops import loss


def softmax(x):
    e = np.exp(x - x.max())
    return e / e.sum()


def log_softmax(x):
    return np.log(softmax(x))


def correlate_same(x, kernel):
    """out[i, j] = sum_kl x[i + k - kh//2, j + l - kw//2] * kernel[k, l], zero outside x."""
    kh, kw = kernel.shape
    out = np.zeros_like(x)
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            for k in range(kh):
                for l in range(kw):
                    r, c = i + k - kh // 2, j + l - kw // 2
                    if 0 <= r < x.shape[0] and 0 <= c < x.shape[1]:
                        out[i, j] += x[r, c] * kernel[k, l]
    return out


def max_pool(x, size, stride):
    """The book's pooling: the window of output (r, c) is centred on (r*sh, c*sw), clipped at the borders."""
    (kh, kw), (sh, sw) = size, stride
    out_h, out_w = -(-x.shape[0] // sh), -(-x.shape[1] // sw)
    out = np.empty((out_h, out_w))
    for r in range(out_h):
        for c in range(out_w):
            top, left = r * sh - kh // 2, c * sw - kw // 2
            out[r, c] = x[max(top, 0) : top + kh, max(left, 0) : left + kw].max()
    return out


def _welded(parents):
    node = ops.Welding()
    node.weld(parents[0])
    return node


@dataclass
class Case:
    """One operator: how to build it from its parents, its reference, its parents' shapes and value kinds."""

    id: str
    build: object
    reference: object
    shapes: list
    kinds: list = field(default_factory=list)  # per parent: "normal" (default), "one_hot" or "binary"

    def values(self, rng, batch=None):
        """Random values for every parent: one sample each, or ``batch`` samples when given."""
        kinds = self.kinds or ["normal"] * len(self.shapes)
        shapes = self.shapes if batch is None else [(batch, *shape) for shape in self.shapes]
        return [_draw(rng, kind, shape) for kind, shape in zip(kinds, shapes, strict=True)]


def _draw(rng, kind, shape):
    if kind == "one_hot":
        rows = shape[-2]
        flat = np.eye(rows)[rng.integers(0, rows, int(np.prod(shape[:-2], dtype=int)))]
        return flat.reshape(*shape[:-2], rows, 1)
    if kind == "binary":
        return rng.integers(0, 2, shape).astype(float)
    return rng.normal(0.0, 1.0, shape)


CASES = [
    Case("Add", lambda p: ops.Add(*p), lambda a, b, c: a + b + c, [(3, 2)] * 3),
    Case("MatMul", lambda p: ops.MatMul(*p), lambda a, b: a @ b, [(3, 4), (4, 2)]),
    Case("MatMul-column", lambda p: ops.MatMul(*p), lambda a, b: a @ b, [(5, 3), (3, 1)]),
    Case("Multiply", lambda p: ops.Multiply(*p), lambda a, b: a * b, [(3, 2)] * 2),
    Case("ScalarMultiply", lambda p: ops.ScalarMultiply(*p), lambda s, m: s[0, 0] * m, [(1, 1), (3, 2)]),
    Case("Logistic", lambda p: ops.Logistic(*p), lambda a: 1.0 / (1.0 + np.exp(-a)), [(4, 1)]),
    Case("ReLU", lambda p: ops.ReLU(*p), lambda a: np.where(a > 0, a, 0.1 * a), [(3, 3)]),
    Case("ReLU-nslope", lambda p: ops.ReLU(*p, nslope=0.3), lambda a: np.where(a > 0, a, 0.3 * a), [(3, 3)]),
    Case("Tanh", lambda p: ops.Tanh(*p), np.tanh, [(2, 3)]),
    Case("Step", lambda p: ops.Step(*p), lambda a: np.where(a >= 0, 1.0, 0.0), [(3, 2)]),
    Case("SoftMax", lambda p: ops.SoftMax(*p), softmax, [(5, 1)]),
    Case("SoftMax-matrix", lambda p: ops.SoftMax(*p), softmax, [(2, 3)]),
    Case("Reshape", lambda p: ops.Reshape(*p, shape=(2, 6)), lambda a: a.reshape(2, 6), [(3, 4)]),
    Case("Transpose", lambda p: ops.Transpose(*p), lambda a: a.T, [(2, 4)]),
    Case("Sum", lambda p: ops.Sum(*p), lambda a: a.sum(keepdims=True), [(3, 4)]),
    Case(
        "Concat",
        lambda p: ops.Concat(*p),
        lambda a, b: np.concatenate([a.ravel(), b.ravel()])[:, None],
        [(2, 3), (4, 1)],
    ),
    Case("Welding", _welded, lambda a: a, [(2, 3)]),
    Case("Convolve", lambda p: ops.Convolve(*p), correlate_same, [(5, 6), (3, 3)]),
    Case("Convolve-even-kernel", lambda p: ops.Convolve(*p), correlate_same, [(4, 5), (2, 4)]),
    Case(
        "MaxPooling-3x3-stride-2",
        lambda p: ops.MaxPooling(*p, size=(3, 3), stride=(2, 2)),
        lambda a: max_pool(a, (3, 3), (2, 2)),
        [(5, 6)],
    ),
    Case(
        "MaxPooling-2x2-stride-2",
        lambda p: ops.MaxPooling(*p, size=(2, 2), stride=(2, 2)),
        lambda a: max_pool(a, (2, 2), (2, 2)),
        [(4, 4)],
    ),
    Case(
        "MaxPooling-2x3-stride-1x2",
        lambda p: ops.MaxPooling(*p, size=(2, 3), stride=(1, 2)),
        lambda a: max_pool(a, (2, 3), (1, 2)),
        [(3, 5)],
    ),
    Case("LogLoss-book", lambda p: loss.LogLoss(*p), lambda x: np.log(1.0 + np.exp(-x)), [(3, 1)]),
    Case(
        "LogLoss-labels",
        lambda p: loss.LogLoss(*p),
        lambda x, y: np.sum(np.log(1.0 + np.exp(x)) - y * x, keepdims=True),
        [(3, 1), (3, 1)],
        ["normal", "binary"],
    ),
    Case(
        "CrossEntropyWithSoftMax",
        lambda p: loss.CrossEntropyWithSoftMax(*p),
        lambda x, y: -np.sum(y * log_softmax(x), keepdims=True),
        [(4, 1), (4, 1)],
        ["normal", "one_hot"],
    ),
    Case("PerceptionLoss", lambda p: loss.PerceptionLoss(*p), lambda x: np.where(x >= 0, 0.0, -x), [(4, 1)]),
    Case(
        "MeanSquaredError",
        lambda p: loss.MeanSquaredError(*p),
        lambda a, b: np.mean((a - b) ** 2, keepdims=True),
        [(3, 2), (3, 2)],
    ),
]

BY_ID = {case.id: case for case in CASES}
