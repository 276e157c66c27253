"""The reference: one MLP training step written directly in NumPy, row-major, no framework.

Same maths as the matrixslow model it is compared with: leaky ReLU (slope 0.1),
softmax cross-entropy averaged over the batch, Adam with bias correction (or plain
gradient descent with ``optimizer="sgd"``). With no hidden layer it is softmax regression.
"""

import numpy as np

from .numpy_adam import Adam


class NumpyMLP:
    def __init__(
        self, sizes, rng, dtype=np.float64, learning_rate=0.001, beta_1=0.9, beta_2=0.99, epsilon=1e-8, optimizer="adam"
    ):
        if optimizer not in ("adam", "sgd"):
            raise ValueError(f"NumpyMLP: optimizer must be 'adam' or 'sgd', got {optimizer!r}")
        self.weights = [
            rng.normal(0.0, np.sqrt(2.0 / (n_in + n_out)), (n_in, n_out)).astype(dtype)
            for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True)
        ]
        self.biases = [np.zeros(n_out, dtype=dtype) for n_out in sizes[1:]]
        self.params = self.weights + self.biases
        self.learning_rate = learning_rate
        self.adam = Adam(self.params, learning_rate, beta_1, beta_2, epsilon) if optimizer == "adam" else None

    def load_matrixslow(self, values):
        """Copy a matrixslow MLP's parameters (W1 (out, in), b1 (out, 1), W2, ...) into this one, in place."""
        for index, (w, b) in enumerate(zip(values[0::2], values[1::2], strict=True)):
            self.weights[index][...] = w.T
            self.biases[index][...] = b[:, 0]
        return self

    def gradients(self, x, one_hot):
        """Mean loss over the batch and its gradients: weights first, then biases (as ``params``)."""
        activations, pre_activations = [x], []
        for i, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            z = activations[-1] @ w + b
            pre_activations.append(z)
            if i < len(self.weights) - 1:
                activations.append(np.maximum(z, 0.1 * z))  # leaky ReLU, written as matrixslow's ReLU computes it
        logits = pre_activations[-1]
        shifted = logits - logits.max(axis=1, keepdims=True)
        log_prob = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        loss = -(one_hot * log_prob).sum() / len(x)

        grad = (np.exp(log_prob) - one_hot) / len(x)
        weight_grads, bias_grads = [], []
        for i in range(len(self.weights) - 1, -1, -1):
            weight_grads.insert(0, activations[i].T @ grad)
            bias_grads.insert(0, grad.sum(axis=0))
            if i > 0:
                # the slope cast to the batch's dtype, as matrixslow's ReLU.vjp does: a float64 slope would
                # make the float32 twin compute every earlier layer's gradient in float64
                slope = np.where(pre_activations[i - 1] > 0, 1.0, 0.1).astype(grad.dtype)
                grad = (grad @ self.weights[i].T) * slope
        return loss, weight_grads + bias_grads

    def step(self, x, one_hot):
        """Forward, backward and one update on a batch; returns the mean loss."""
        loss, grads = self.gradients(x, one_hot)
        if self.adam is not None:
            self.adam.update(grads)
        else:
            for p, g in zip(self.params, grads, strict=True):
                p -= self.learning_rate * g
        return loss
