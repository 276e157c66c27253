"""Adam for the NumPy twins: the textbook update, in place, with the book's beta_2 = 0.99 default."""

import numpy as np


class Adam:
    """Adam with bias correction, updating the arrays of ``params`` in place."""

    def __init__(self, params, learning_rate=0.001, beta_1=0.9, beta_2=0.99, epsilon=1e-8):
        self.params = params
        self.m = [np.zeros_like(p) for p in params]
        self.v = [np.zeros_like(p) for p in params]
        self.t = 0
        self.learning_rate, self.beta_1, self.beta_2, self.epsilon = learning_rate, beta_1, beta_2, epsilon

    def update(self, grads):
        self.t += 1
        for p, g, m, v in zip(self.params, grads, self.m, self.v, strict=True):
            m *= self.beta_1
            m += (1 - self.beta_1) * g
            v *= self.beta_2
            v += (1 - self.beta_2) * g * g
            p -= (
                self.learning_rate
                * (m / (1 - self.beta_1**self.t))
                / (np.sqrt(v / (1 - self.beta_2**self.t)) + self.epsilon)
            )
