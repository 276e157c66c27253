"""Loss functions: LogLoss, CrossEntropyWithSoftMax, PerceptionLoss, MeanSquaredError.

Each gives one loss per sample (a batch gives one per sample, and the optimizer
averages them). All are written so that no logit overflows and no log of zero
appears.
"""

import numpy as np

from ..core.registry import register_node_type
from .activation import logistic
from .base import Operator, per_sample_sum


class LossFunction(Operator):
    """Base class of the losses."""

    def check_labels(self, logits, labels):
        self.check_batches(logits, labels)
        if logits.shape[-2:] != labels.shape[-2:]:
            self.fail(f"labels of shape {labels.shape[-2:]} do not match the predictions' shape {logits.shape[-2:]}")


@register_node_type
class LogLoss(LossFunction):
    """Logistic loss.

    ``LogLoss(x)`` is the book's form: log(1 + e^-x) elementwise, where x is
    label * logit with labels in {-1, 1}. ``LogLoss(logits, labels)`` takes
    labels in {0, 1} and gives the per-sample sum of the binary cross-entropy.
    """

    def compute(self):
        if len(self.parents) != 1:
            self.expect_parents(2)
            self.check_labels(self.parents[0].value, self.parents[1].value)
        self.replay()

    def replay(self):
        x = self.parents[0].value
        if len(self.parents) == 1:
            self.value = np.logaddexp(0.0, -x)  # log(1 + e^-x) without overflow
            return
        # Kept for the backward pass: logistic(x) = e^(x - log(1 + e^x)), one exp instead of a second logaddexp.
        self._softplus = np.logaddexp(0.0, x)
        self.value = per_sample_sum(self._softplus - self.parents[1].value * x)

    def vjp(self, parent_index, grad):
        x = self.parents[0].value
        if len(self.parents) == 1:
            return -grad * logistic(-x)
        if parent_index == 0:
            return grad * (np.exp(x - self._softplus) - self.parents[1].value)
        return grad * -x


@register_node_type
class CrossEntropyWithSoftMax(LossFunction):
    """Cross-entropy of the labels (second parent, one-hot) against SoftMax of the logits (first parent)."""

    def compute(self):
        self.expect_parents(2)
        self.check_labels(self.parents[0].value, self.parents[1].value)
        self.replay()

    def replay(self):
        logits, labels = self.parents[0].value, self.parents[1].value
        # log(softmax(x)) as x - max - log(sum(exp(x - max))): finite for any finite logits, where
        # log(softmax(x)) would give log(0) = -inf. The exps, their sums and the log (negated once here
        # rather than in the value and again in the labels' gradient) are kept for the backward pass.
        shifted = logits - logits.max(axis=(-2, -1), keepdims=True)
        self._exps = np.exp(shifted)
        self._totals = per_sample_sum(self._exps)
        self._negative_log_probabilities = np.log(self._totals) - shifted
        self.value = per_sample_sum(labels * self._negative_log_probabilities)

    def vjp(self, parent_index, grad):
        labels = self.parents[1].value
        if parent_index == 0:  # softmax * sum(labels) - labels, the division done on one number per sample
            return grad * (self._exps * (per_sample_sum(labels) / self._totals) - labels)
        return grad * self._negative_log_probabilities


@register_node_type
class PerceptionLoss(LossFunction):
    """Perceptron loss, elementwise: 0 where x >= 0, else -x."""

    def compute(self):
        self.expect_parents(1)
        x = self.parents[0].value
        self.value = np.where(x >= 0.0, 0.0, -x)

    def vjp(self, parent_index, grad):
        return grad * np.where(self.parents[0].value >= 0.0, 0.0, -1.0).astype(grad.dtype)


@register_node_type
class MeanSquaredError(LossFunction):
    """Mean of the squared differences between predictions (first parent) and targets (second)."""

    def compute(self):
        self.expect_parents(2)
        predictions, targets = self.parents[0].value, self.parents[1].value
        self.check_labels(predictions, targets)
        error = predictions - targets
        self.value = per_sample_sum(error * error) / (error.shape[-2] * error.shape[-1])

    def vjp(self, parent_index, grad):
        predictions, targets = self.parents[0].value, self.parents[1].value
        error = predictions - targets
        d_predictions = grad * (2.0 / (error.shape[-2] * error.shape[-1])) * error
        return d_predictions if parent_index == 0 else -d_predictions
