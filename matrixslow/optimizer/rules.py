"""The update rules: each optimizer says how one variable moves given its mean gradient g.

Each rule works in place (see ``Optimizer.update``): g is the optimizer's own array and is
overwritten on the way, in the order of the formula, so the rounding is the formula's.
"""

import numpy as np

from .base import PACKABLE_RULES, Optimizer, _check_fraction, _check_positive


class GradientDescent(Optimizer):
    """w <- w - lr * g"""

    def _update_one(self, node, gradient):
        gradient *= self.learning_rate
        node.value -= gradient


class Momentum(Optimizer):
    """v <- momentum * v + lr * g;  w <- w - v  (v starts at zero)."""

    SLOTS = ("v",)

    def __init__(self, graph, target, learning_rate=0.01, momentum=0.9):
        super().__init__(graph, target, learning_rate)
        _check_fraction(self, "momentum", momentum)
        self.momentum = momentum
        self.v = {}

    def _update_one(self, node, gradient):
        velocity = np.multiply(gradient, self.learning_rate, out=gradient)
        if node in self.v:
            # Not from zeros: 0 + (-0.0) would be +0.0, and the first step would differ in the sign of 0.
            velocity = self.v[node]
            velocity *= self.momentum
            velocity += gradient
        self.v[node] = velocity
        node.value -= velocity


class AdaGrad(Optimizer):
    """s <- s + g^2;  w <- w - lr * g / (sqrt(s) + epsilon)."""

    SLOTS = ("s",)

    def __init__(self, graph, target, learning_rate=0.01, epsilon=1e-10):
        super().__init__(graph, target, learning_rate)
        _check_positive(self, "epsilon", epsilon)
        self.epsilon = epsilon
        self.s = {}

    def _update_one(self, node, gradient):
        s, spare = self._slot_entry(self.s, node, gradient), self._spare(node, gradient)
        s += np.square(gradient, out=spare)
        denominator = np.sqrt(s, out=spare)
        denominator += self.epsilon
        gradient *= self.learning_rate
        gradient /= denominator
        node.value -= gradient


class RMSProp(Optimizer):
    """s <- beta * s + (1 - beta) * g^2;  w <- w - lr * g / (sqrt(s) + epsilon)  (s starts at zero)."""

    SLOTS = ("s",)

    def __init__(self, graph, target, learning_rate=0.01, beta=0.9, epsilon=1e-10):
        super().__init__(graph, target, learning_rate)
        _check_fraction(self, "beta", beta)
        _check_positive(self, "epsilon", epsilon)
        self.beta, self.epsilon = beta, epsilon
        self.s = {}

    def _update_one(self, node, gradient):
        s, spare = self._slot_entry(self.s, node, gradient), self._spare(node, gradient)
        s *= self.beta
        squared = np.square(gradient, out=spare)
        squared *= 1.0 - self.beta
        s += squared
        denominator = np.sqrt(s, out=spare)
        denominator += self.epsilon
        gradient *= self.learning_rate
        gradient /= denominator
        node.value -= gradient


class Adam(Optimizer):
    """Adam with bias correction (Kingma & Ba), t counting updates from 1:

    m <- b1 m + (1 - b1) g;  v <- b2 v + (1 - b2) g^2
    w <- w - lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t) + epsilon_root) + epsilon)

    The defaults keep the book's beta_2 = 0.99. The book's own Adam is
    ``bias_correction=False, epsilon=0, epsilon_root=1e-10`` (``BOOK_ADAM``):
    without the correction each step is (1 - b1^t) / sqrt(1 - b2^t) times the
    corrected one, up to 2.13 times at t = 13 with these betas; and 1e-10 inside
    the root damps the tiny first gradients of weights drawn from N(0, 0.001).
    """

    SLOTS = ("v", "s")
    COUNTERS = ("t",)

    def __init__(
        self,
        graph,
        target,
        learning_rate=0.01,
        beta_1=0.9,
        beta_2=0.99,
        epsilon=1e-8,
        *,
        epsilon_root=0.0,
        bias_correction=True,
    ):
        super().__init__(graph, target, learning_rate)
        _check_fraction(self, "beta_1", beta_1)
        _check_fraction(self, "beta_2", beta_2)
        if not (epsilon >= 0 and epsilon_root >= 0 and epsilon + epsilon_root > 0):
            raise ValueError(
                f"Adam: epsilon and epsilon_root must be non-negative and not both zero, "
                f"got epsilon={epsilon}, epsilon_root={epsilon_root}"
            )
        self.beta_1, self.beta_2 = beta_1, beta_2
        self.epsilon, self.epsilon_root = epsilon, epsilon_root
        self.bias_correction = bool(bias_correction)
        self.v, self.s = {}, {}
        self.t = 0

    def before_update(self):
        self.t += 1

    def _update_one(self, node, gradient):
        v, s = self._slot_entry(self.v, node, gradient), self._slot_entry(self.s, node, gradient)
        spare = self._spare(node, gradient)
        v *= self.beta_1
        v += np.multiply(gradient, 1.0 - self.beta_1, out=spare)
        s *= self.beta_2
        squared = np.square(gradient, out=spare)
        squared *= 1.0 - self.beta_2
        s += squared
        # The moments are kept; their corrected copies overwrite the spent g and the spare. x / 1.0 is x.
        corrections = (1.0 - self.beta_1**self.t, 1.0 - self.beta_2**self.t) if self.bias_correction else (1.0, 1.0)
        mean = np.divide(v, corrections[0], out=gradient)
        second_moment = np.divide(s, corrections[1], out=spare)
        if self.epsilon_root:
            second_moment += self.epsilon_root
        denominator = np.sqrt(second_moment, out=second_moment)
        denominator += self.epsilon
        mean *= self.learning_rate
        mean /= denominator
        node.value -= mean


# Each rule reads node.value and its slots only as arrays: a packed array of many variables does as well.
PACKABLE_RULES.update(rule._update_one for rule in (GradientDescent, Momentum, AdaGrad, RMSProp, Adam))

# The keyword arguments that make ``Adam`` the book's update: w <- w - lr * m / sqrt(v + 1e-10).
BOOK_ADAM = {"bias_correction": False, "epsilon": 0.0, "epsilon_root": 1e-10}
