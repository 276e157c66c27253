"""The update rules: each optimizer says how one variable moves given its mean gradient g."""

import numpy as np

from .base import Optimizer, _check_fraction, _check_positive


class GradientDescent(Optimizer):
    """w <- w - lr * g"""

    def _update_one(self, node, gradient):
        return node.value - self.learning_rate * gradient


class Momentum(Optimizer):
    """v <- momentum * v + lr * g;  w <- w - v  (v starts at zero)."""

    SLOTS = ("v",)

    def __init__(self, graph, target, learning_rate=0.01, momentum=0.9):
        super().__init__(graph, target, learning_rate)
        _check_fraction(self, "momentum", momentum)
        self.momentum = momentum
        self.v = {}

    def _update_one(self, node, gradient):
        velocity = self.learning_rate * gradient
        if node in self.v:
            velocity += self.momentum * self.v[node]
        self.v[node] = velocity
        return node.value - velocity


class AdaGrad(Optimizer):
    """s <- s + g^2;  w <- w - lr * g / (sqrt(s) + epsilon)."""

    SLOTS = ("s",)

    def __init__(self, graph, target, learning_rate=0.01, epsilon=1e-10):
        super().__init__(graph, target, learning_rate)
        _check_positive(self, "epsilon", epsilon)
        self.epsilon = epsilon
        self.s = {}

    def _update_one(self, node, gradient):
        self.s[node] = self.s.get(node, 0.0) + gradient**2
        return node.value - self.learning_rate * gradient / (np.sqrt(self.s[node]) + self.epsilon)


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
        self.s[node] = self.beta * self.s.get(node, 0.0) + (1.0 - self.beta) * gradient**2
        return node.value - self.learning_rate * gradient / (np.sqrt(self.s[node]) + self.epsilon)


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
        self.v[node] = self.beta_1 * self.v.get(node, 0.0) + (1.0 - self.beta_1) * gradient
        self.s[node] = self.beta_2 * self.s.get(node, 0.0) + (1.0 - self.beta_2) * gradient**2
        mean, second_moment = self.v[node], self.s[node]
        if self.bias_correction:
            mean, second_moment = mean / (1.0 - self.beta_1**self.t), second_moment / (1.0 - self.beta_2**self.t)
        if self.epsilon_root:
            second_moment = second_moment + self.epsilon_root
        return node.value - self.learning_rate * mean / (np.sqrt(second_moment) + self.epsilon)


# The keyword arguments that make ``Adam`` the book's update: w <- w - lr * m / sqrt(v + 1e-10).
BOOK_ADAM = {"bias_correction": False, "epsilon": 0.0, "epsilon_root": 1e-10}
