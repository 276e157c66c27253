"""Elementwise activations and SoftMax: Logistic, ReLU, Tanh, Step, SoftMax."""

import numpy as np

from ..core.registry import register_node_type
from .base import Operator, per_sample_sum


class _Elementwise(Operator):
    """An operator of one parent, applied to every element."""

    def compute(self):
        self.expect_parents(1)
        self.replay()

    def replay(self):
        self.value = self.function(self.parents[0].value)


def logistic(x):
    # exp(-log(1 + e^-x)) never overflows, whatever the sign and size of x.
    return np.exp(-np.logaddexp(0.0, -x))


@register_node_type
class Logistic(_Elementwise):
    """The logistic sigmoid 1 / (1 + e^-x)."""

    function = staticmethod(logistic)

    def vjp(self, parent_index, grad):
        return grad * self.value * (1.0 - self.value)


@register_node_type
class ReLU(_Elementwise):
    """Leaky ReLU: x where x > 0, else ``nslope * x`` (the book's slope is 0.1)."""

    def __init__(self, *parents, nslope=0.1, **kargs):
        super().__init__(*parents, nslope=nslope, **kargs)
        self.nslope = nslope

    def function(self, x):
        if 0.0 < self.nslope <= 1.0:
            # max(x, slope * x) is x where x > 0 and slope * x elsewhere: the numbers of the np.where
            # below (signed zeros, infinities and NaN included), in two NumPy calls instead of three.
            return np.maximum(x, self.nslope * x)
        return np.where(x > 0.0, x, self.nslope * x)

    def vjp(self, parent_index, grad):
        # grad where x > 0, else grad * slope: in grad's own dtype (no float64 slope array in a float32 run)
        return np.where(self.parents[0].value > 0.0, grad, grad * self.nslope)


@register_node_type
class Tanh(_Elementwise):
    """The hyperbolic tangent."""

    function = staticmethod(np.tanh)

    def vjp(self, parent_index, grad):
        return grad * (1.0 - self.value**2)


@register_node_type
class Step(_Elementwise):
    """1 where x >= 0, else 0. Its derivative is zero wherever it exists."""

    @staticmethod
    def function(x):
        return np.where(x >= 0.0, 1.0, 0.0).astype(x.dtype)

    def vjp(self, parent_index, grad):
        return np.zeros_like(grad)


def softmax(x):
    """SoftMax over all elements of each sample's matrix."""
    # Subtracting the per-sample maximum changes nothing mathematically and
    # keeps exp() from overflowing on large logits.
    shifted = np.exp(x - x.max(axis=(-2, -1), keepdims=True))
    return shifted / per_sample_sum(shifted)


@register_node_type
class SoftMax(_Elementwise):
    """SoftMax over all elements of each sample's matrix (usually a column of logits)."""

    function = staticmethod(softmax)

    def vjp(self, parent_index, grad):
        # The Jacobian diag(s) - s s^T applied to grad, without building it.
        return self.value * (grad - per_sample_sum(grad * self.value))
