"""Evaluation metrics as graph nodes: Accuracy, Precision, Recall, F1Score, ROC, ROC_AUC.

A metric is a node whose parents are a prediction and a label. Each ``forward()``
adds the current sample or batch to everything the metric has seen since its last
``reset()`` and sets ``value`` to the metric over all of it, so an evaluation loop
may feed one sample or one batch at a time::

    accuracy = Accuracy(prediction, label)
    accuracy.reset()
    for features, labels in test_batches:
        x.set_value(features)
        label.set_value(labels)
        accuracy.forward()
    print(accuracy.value_str())  # "Accuracy: 0.9123"

Inputs
------
- Binary: one score per sample, a (1, 1) prediction (a probability or any
  score), and a (1, 1) label in {-1, 1} or {0, 1}; the positive class is 1.
  Accuracy, Precision, Recall and F1Score call a sample positive where
  ``score >= threshold`` (``threshold=0.5`` unless given).
- Multi-class: a (k, 1) column of scores per sample and a one-hot (k, 1) label;
  the predicted class is the row of the largest score. Precision, Recall and
  F1Score are macro averages (sklearn's ``average='macro', zero_division=0``).

When a batch counts
-------------------
The engine computes a node only while its value is None, and ``set_value`` on an
input forgets every value computed from it, this one's included. So a metric adds
a batch once per change of its inputs: ``forward()`` twice on the same batch
counts it once. The running totals live in attributes of their own, which
``set_value`` does not touch; ``result()`` and ``value_str()`` read them at any
time. ``Graph.reset_value()`` forgets every computed value, so a ``forward()``
after it counts the current batch again.

Metrics have no gradient: they are plain Nodes, not Operators, are not saved with
the graph (``need_save=False``) and are not registered as node types.
"""

import numpy as np

from ..core.errors import GraphError, ShapeError
from ..core.node import Node


class Metrics(Node):
    """Base class of the metrics: checks the inputs and keeps the running totals.

    Parameters
    ----------
    prediction, label : Node
        A (1, 1) score and a {-1, 1} or {0, 1} label per sample (binary), or a
        (k, 1) column of scores and a one-hot (k, 1) label (k classes).
    need_save : bool, default False
    **kargs
        ``name=``, ``graph=`` and the metric's own settings.

    A metric defines ``init()`` (clear its totals), ``accumulate(scores, truth)``
    and ``result()`` (the metric over its totals).
    """

    # ROC curves need one score per sample; the counting metrics also take k classes.
    binary_only = False

    def __init__(self, prediction, label, **kargs):
        kargs.setdefault("need_save", False)
        super().__init__(prediction, label, **kargs)
        self.reset()

    def reset(self):
        """Forget every sample seen so far, and the value."""
        self.reset_value()
        self.class_count = None  # rows per sample: 1 (binary) or k, fixed until the next reset()
        self.negative_label = None  # -1 or 0, whichever convention the binary labels use
        self.init()

    def init(self):
        raise NotImplementedError(f"{type(self).__name__} does not define init()")

    def accumulate(self, scores, truth):
        """Add a batch: ``scores`` is (n, k), ``truth`` the n true classes (binary: 1 positive, 0 negative)."""
        raise NotImplementedError(f"{type(self).__name__} does not define accumulate()")

    def result(self):
        """The metric over every sample seen since the last ``reset()`` (NaN before any)."""
        raise NotImplementedError(f"{type(self).__name__} does not define result()")

    def compute(self):
        self.accumulate(*self._read_inputs())
        self.value = self.result()

    def value_str(self):
        return f"{type(self).__name__}: {self.result():.4f}"

    def vjp(self, parent_index, grad):
        raise GraphError(f"{self.describe()} is a metric: it has no gradient")

    def __repr__(self):
        value = self.value if self.value is None or np.ndim(self.value) == 0 else f"shape {self.value.shape}"
        return f"<{self.describe()} value {value}>"

    # -- checking the inputs ------------------------------------------------
    def _read_inputs(self):
        """The batch as (n, k) scores and n true classes, checked before any total changes."""
        prediction, label = self.parents[0].value, self.parents[1].value
        classes = self._check_shapes(prediction, label)
        scores = prediction.reshape(-1, classes)
        labels = label.reshape(-1, classes)
        if not np.all(np.isfinite(scores)):
            raise ValueError(f"{self.describe()}: the prediction holds NaN or infinite scores")
        if classes == 1:
            truth, negative_label = self._binary_truth(labels[:, 0])
            self.negative_label = negative_label
        else:
            truth = self._one_hot_truth(labels)
        self.class_count = classes
        return scores, truth

    def _check_shapes(self, prediction, label):
        samples = [value.shape[0] if value.ndim == 3 else 1 for value in (prediction, label)]
        if prediction.shape[-2:] != label.shape[-2:] or samples[0] != samples[1]:
            raise ShapeError(
                f"{self.describe()}: prediction of shape {prediction.shape} does not match label of shape {label.shape}"
            )
        rows, columns = prediction.shape[-2:]
        if columns != 1:
            raise ShapeError(
                f"{self.describe()}: expects one column per sample, (1, 1) for a binary score or (k, 1) "
                f"for k classes, got samples of shape {(rows, columns)}"
            )
        if self.binary_only and rows != 1:
            raise ShapeError(
                f"{self.describe()}: is defined for binary problems only and expects one score per sample, "
                f"a (1, 1) prediction, got ({rows}, 1) columns"
            )
        if self.class_count is not None and rows != self.class_count:
            raise ShapeError(
                f"{self.describe()}: got samples of shape ({rows}, 1) after ({self.class_count}, 1) "
                "since the last reset()"
            )
        return rows

    def _binary_truth(self, labels):
        outside = labels[~np.isin(labels, (-1.0, 0.0, 1.0))]
        if outside.size:
            raise ValueError(f"{self.describe()}: binary labels must be in {{-1, 1}} or {{0, 1}}, got {outside[0]:g}")
        negatives = {int(value) for value in labels[labels != 1.0]}
        if self.negative_label is not None:
            negatives.add(self.negative_label)
        if len(negatives) > 1:
            raise ValueError(
                f"{self.describe()}: labels mix the conventions {{-1, 1}} and {{0, 1}} "
                "(negatives are -1 and 0 since the last reset())"
            )
        negative_label = negatives.pop() if negatives else None
        return (labels == 1.0).astype(np.int64), negative_label

    def _one_hot_truth(self, labels):
        one_hot = np.isin(labels, (0.0, 1.0)).all(axis=1) & (labels.sum(axis=1) == 1.0)
        if not one_hot.all():
            sample = int(np.flatnonzero(~one_hot)[0])
            raise ValueError(
                f"{self.describe()}: multi-class labels must be one-hot ({labels.shape[1]}, 1) columns, "
                f"sample {sample} is {labels[sample].tolist()}"
            )
        return labels.argmax(axis=1)


# -- metrics that count a confusion matrix --------------------------------------
class ConfusionMetrics(Metrics):
    """A metric read from the confusion matrix of true (rows) against predicted (columns) classes.

    Binary problems count classes 0 (negative) and 1 (positive); k classes count
    a k x k matrix.

    Parameters
    ----------
    threshold : float, default 0.5
        Binary only: a sample is predicted positive where its score >= threshold.
    """

    def __init__(self, prediction, label, threshold=0.5, **kargs):
        self.threshold = threshold
        super().__init__(prediction, label, threshold=threshold, **kargs)

    def init(self):
        self.confusion = None  # allocated by the first batch, which tells how many classes there are

    def accumulate(self, scores, truth):
        if scores.shape[1] == 1:
            size, predicted = 2, (scores[:, 0] >= self.threshold).astype(np.int64)
        else:
            size, predicted = scores.shape[1], scores.argmax(axis=1)
        batch = np.bincount(truth * size + predicted, minlength=size * size).reshape(size, size)
        self.confusion = batch if self.confusion is None else self.confusion + batch

    def seen_nothing(self):
        return self.confusion is None or self.confusion.sum() == 0

    def per_class_counts(self):
        """True positives, predicted and true counts of the classes the metric averages over.

        Binary: the positive class only. Multi-class: every class seen as a label
        or as a prediction, as sklearn's ``average='macro'`` does.
        """
        hits = np.diag(self.confusion)
        predicted = self.confusion.sum(axis=0)
        actual = self.confusion.sum(axis=1)
        counted = [1] if self.class_count == 1 else (predicted + actual) > 0
        return hits[counted], predicted[counted], actual[counted]


def _ratio(numerators, denominators):
    """numerators / denominators, and 0 where a denominator is 0 (sklearn's zero_division=0)."""
    out = np.zeros(len(numerators), dtype=np.float64)
    return np.divide(numerators, denominators, out=out, where=denominators > 0)


class Accuracy(ConfusionMetrics):
    """The fraction of samples whose predicted class is the true one."""

    def result(self):
        if self.seen_nothing():
            return np.float64(np.nan)
        return np.float64(np.trace(self.confusion) / self.confusion.sum())


class Precision(ConfusionMetrics):
    """Of the samples predicted positive, the fraction that are (multi-class: the macro average)."""

    def result(self):
        if self.seen_nothing():
            return np.float64(np.nan)
        hits, predicted, _ = self.per_class_counts()
        return np.mean(_ratio(hits, predicted))


class Recall(ConfusionMetrics):
    """Of the positive samples, the fraction predicted positive (multi-class: the macro average)."""

    def result(self):
        if self.seen_nothing():
            return np.float64(np.nan)
        hits, _, actual = self.per_class_counts()
        return np.mean(_ratio(hits, actual))


class F1Score(ConfusionMetrics):
    """The harmonic mean of precision and recall, 2 TP / (2 TP + FP + FN) (multi-class: the macro average)."""

    def result(self):
        if self.seen_nothing():
            return np.float64(np.nan)
        hits, predicted, actual = self.per_class_counts()
        # 2 TP + FP + FN is the predicted count plus the true count.
        return np.mean(_ratio(2 * hits, predicted + actual))


# -- metrics that rank the scores -----------------------------------------------
class ScoreMetrics(Metrics):
    """A binary metric over every score seen: how many positive and negative samples had each distinct score.

    Counting per distinct score keeps each batch's update to one merge, so feeding
    samples one at a time stays cheap, and gives ties the treatment sklearn gives
    them: samples with equal scores cross a threshold together.
    """

    binary_only = True

    def init(self):
        self.scores = np.empty(0)  # distinct scores, ascending
        self.positive_counts = np.empty(0, dtype=np.int64)
        self.negative_counts = np.empty(0, dtype=np.int64)

    def accumulate(self, scores, truth):
        all_scores = np.concatenate([self.scores, scores[:, 0]])
        self.scores, where = np.unique(all_scores, return_inverse=True)
        for counts, batch in (("positive_counts", truth), ("negative_counts", 1 - truth)):
            weights = np.concatenate([getattr(self, counts), batch])
            setattr(self, counts, np.bincount(where, weights=weights, minlength=len(self.scores)).astype(np.int64))

    def curve(self):
        """False and true positive rates at every distinct score, from the highest down, after (0, 0) at +inf.

        Equal to ``sklearn.metrics.roc_curve(labels, scores, drop_intermediate=False)``;
        a rate is NaN while its class has not been seen, as in sklearn.
        """
        # At threshold t every sample scoring >= t is called positive: cumulative counts from the top score down.
        true_positives = np.concatenate([[0], np.cumsum(self.positive_counts[::-1])])
        false_positives = np.concatenate([[0], np.cumsum(self.negative_counts[::-1])])
        thresholds = np.concatenate([[np.inf], self.scores[::-1]])
        return _rate(false_positives), _rate(true_positives), thresholds

    def class_totals(self):
        return int(self.positive_counts.sum()), int(self.negative_counts.sum())


def _rate(cumulative_counts):
    total = cumulative_counts[-1]
    return cumulative_counts / total if total > 0 else np.full(len(cumulative_counts), np.nan)


class ROC(ScoreMetrics):
    """The receiver operating characteristic curve.

    ``value`` is a (3, n) array whose rows are the false positive rates, the true
    positive rates and the thresholds (``fpr, tpr, thresholds = roc.value``),
    exactly ``sklearn.metrics.roc_curve(labels, scores, drop_intermediate=False)``.
    The ``fpr``, ``tpr`` and ``thresholds`` attributes read the same curve.
    """

    def result(self):
        return np.array(self.curve())

    @property
    def fpr(self):
        return self.curve()[0]

    @property
    def tpr(self):
        return self.curve()[1]

    @property
    def thresholds(self):
        return self.curve()[2]

    def value_str(self):
        positives, negatives = self.class_totals()
        return f"ROC: {len(self.scores) + 1} points over {positives} positive and {negatives} negative samples"


class ROC_AUC(ScoreMetrics):  # the book's name
    """The area under the ROC curve (trapezoids, ties as in sklearn): ``sklearn.metrics.roc_auc_score``.

    A stream fed one sample at a time starts with one class only, so ``value`` is
    NaN until both classes have been seen; ``result()`` and ``value_str()`` raise
    instead, as sklearn does, since the area is not defined then.
    """

    def compute(self):
        self.accumulate(*self._read_inputs())
        self.value = self.result() if min(self.class_totals()) > 0 else np.float64(np.nan)

    def result(self):
        positives, negatives = self.class_totals()
        if positives + negatives == 0:
            raise ValueError(f"{self.describe()}: no labels seen since the last reset(); ROC AUC is not defined")
        if min(positives, negatives) == 0:
            raise ValueError(
                f"{self.describe()}: only one class present in the labels seen since the last reset() "
                f"({positives} positive, {negatives} negative); ROC AUC is not defined in that case"
            )
        fpr, tpr, _ = self.curve()
        return np.float64(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2.0))
