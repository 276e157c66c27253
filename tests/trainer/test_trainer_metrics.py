"""SimpleTrainer with metrics: the history holds each metric per epoch, equal to sklearn's on the same predictions.

The reference values come from ``sklearn.metrics`` applied to ``trainer.predict``
of the test set, never from the metric nodes themselves. The test sets are
larger than any evaluation batch and not a multiple of it, so the metrics must
add up several batches, the last one partial.
"""

import numpy as np
import pytest
from sklearn import metrics as sk

import matrixslow as ms
from matrixslow.ops.metrics import ROC_AUC, Accuracy, F1Score, Precision, Recall
from matrixslow.trainer import SimpleTrainer
from tests.model.cases import log_loss, one_hot

TEST_SIZE = 601  # more than one evaluation batch, and not a multiple of any batch size used here
BATCH_SIZE = 16
EPOCHES = 3
TOLERANCE = 1e-9


def noisy_binary(rng, n):
    """3 features; the label is whether x0 + x1 > 0, flipped for 15% of the samples (so nothing is perfect)."""
    x = rng.standard_normal((n, 3))
    labels = (x[:, 0] + x[:, 1] > 0) ^ (rng.random(n) < 0.15)
    return x, labels.astype(float)[:, None, None]


def noisy_three_classes(rng, n):
    """3 features; the class is the largest feature, replaced by a random class for 20% of the samples."""
    x = rng.standard_normal((n, 3))
    classes = np.where(rng.random(n) < 0.2, rng.integers(0, 3, n), x.argmax(axis=1))
    return x, one_hot(classes, 3)


class BatchCountingAccuracy(Accuracy):
    """Accuracy that remembers the size of every batch it added since its last reset."""

    def init(self):
        super().init()
        self.batch_sizes = []

    def accumulate(self, scores, truth):
        self.batch_sizes.append(len(truth))
        super().accumulate(scores, truth)


class SnapshotTrainer(SimpleTrainer):
    """A SimpleTrainer that predicts the test set right after each evaluation, for per-epoch references."""

    def __init__(self, *args, snapshot_x, snapshot_output, **kargs):
        super().__init__(*args, **kargs)
        self.snapshot_x, self.snapshot_output, self.snapshots = snapshot_x, snapshot_output, []

    def eval(self, inputs, labels):
        results = super().eval(inputs, labels)
        self.snapshots.append(self.predict(self.snapshot_x, self.snapshot_output))
        return results


def datasets(data):
    """The same 200 training and TEST_SIZE test samples of ``data`` every time: ((x, y), (x, y))."""
    rng = np.random.default_rng(5)
    return data(rng, 200), data(rng, TEST_SIZE)


def run(graph, model, data, metrics, trainer_class=SimpleTrainer, **kargs):
    """Train ``model`` for EPOCHES with evaluation on a test set of TEST_SIZE; returns (trainer, test_x, test_y)."""
    (train_x, train_y), (test_x, test_y) = datasets(data)
    optimizer = ms.optimizer.Adam(graph, model.loss, 0.05)
    trainer = trainer_class(
        model.inputs,
        model.label,
        model.loss,
        optimizer,
        epoches=EPOCHES,
        batch_size=BATCH_SIZE,
        eval_on_train=True,
        metrics_ops=metrics,
        seed=0,
        verbose=False,
        **kargs,
    )
    trainer.train_and_eval(model.feed(train_x), train_y, model.feed(test_x), test_y)
    return trainer, model.feed(test_x), test_y


def sklearn_binary(labels, scores, threshold=0.5):
    truth, predicted = labels.ravel().astype(int), (scores.ravel() >= threshold).astype(int)
    return {
        "Accuracy": sk.accuracy_score(truth, predicted),
        "Precision": sk.precision_score(truth, predicted, zero_division=0),
        "Recall": sk.recall_score(truth, predicted, zero_division=0),
        "F1Score": sk.f1_score(truth, predicted, zero_division=0),
        "ROC_AUC": sk.roc_auc_score(truth, scores.ravel()),
    }


BINARY_METRICS = ["Accuracy", "Precision", "Recall", "F1Score", "ROC_AUC"]


def binary_metrics(model):
    classes = {"Accuracy": Accuracy, "Precision": Precision, "Recall": Recall, "F1Score": F1Score, "ROC_AUC": ROC_AUC}
    return [classes[name](model.predict, model.label) for name in BINARY_METRICS]


def test_binary_metrics_are_recorded_every_epoch_and_equal_sklearn_at_the_end(graph):
    model = ms.model.logistic_regression(3)
    trainer, test_x, test_y = run(graph, model, noisy_binary, binary_metrics(model))

    assert [record["epoch"] for record in trainer.history] == list(range(1, EPOCHES + 1))
    for record in trainer.history:
        assert set(record) == {"epoch", "loss", "val_loss", *BINARY_METRICS}
        for name in ["loss", "val_loss", *BINARY_METRICS]:
            assert isinstance(record[name], float) and np.isfinite(record[name]), (record["epoch"], name)
    scores = trainer.predict(test_x, model.predict)
    assert scores.shape == (TEST_SIZE, 1, 1)
    expected = sklearn_binary(test_y, scores)
    last = trainer.history[-1]
    for name in BINARY_METRICS:
        assert last[name] == pytest.approx(expected[name], abs=TOLERANCE), name
    # Not a degenerate problem: every metric is strictly between 0 and 1.
    assert all(0.0 < expected[name] < 1.0 for name in BINARY_METRICS)
    logits = trainer.predict(test_x, model.logits)
    assert last["val_loss"] == pytest.approx(np.mean(log_loss(logits, test_y)), abs=TOLERANCE)


def test_every_epoch_records_the_metrics_of_the_weights_it_ended_with(graph):
    model = ms.model.logistic_regression(3)
    _, (test_x, _) = datasets(noisy_binary)
    trainer, _, test_y = run(
        graph,
        model,
        noisy_binary,
        binary_metrics(model),
        trainer_class=SnapshotTrainer,
        snapshot_x=model.feed(test_x),
        snapshot_output=model.predict,
    )
    assert len(trainer.snapshots) == EPOCHES
    assert not np.array_equal(trainer.snapshots[0], trainer.snapshots[-1]), "the weights moved between epochs"
    for record, scores in zip(trainer.history, trainer.snapshots, strict=True):
        expected = sklearn_binary(test_y, scores)
        for name in BINARY_METRICS:
            assert record[name] == pytest.approx(expected[name], abs=TOLERANCE), (record["epoch"], name)


def test_three_class_accuracy_equals_sklearn(graph):
    model = ms.model.softmax_regression(3, 3)
    trainer, test_x, test_y = run(graph, model, noisy_three_classes, [Accuracy(model.predict, model.label)])

    assert all(set(record) == {"epoch", "loss", "val_loss", "Accuracy"} for record in trainer.history)
    assert len(trainer.history) == EPOCHES
    columns = trainer.predict(test_x, model.predict)
    assert columns.shape == (TEST_SIZE, 3, 1)
    expected = sk.accuracy_score(test_y[:, :, 0].argmax(axis=1), columns[:, :, 0].argmax(axis=1))
    assert 0.4 < expected < 1.0
    assert trainer.history[-1]["Accuracy"] == pytest.approx(expected, abs=TOLERANCE)


def test_two_metrics_of_one_class_are_keyed_by_their_node_names(graph):
    model = ms.model.logistic_regression(3)
    metrics = [
        Accuracy(model.predict, model.label, name="accuracy_at_half"),
        Accuracy(model.predict, model.label, threshold=0.7, name="accuracy_at_0_7"),
        Precision(model.predict, model.label),
    ]
    trainer, test_x, test_y = run(graph, model, noisy_binary, metrics)

    last = trainer.history[-1]
    assert set(last) == {"epoch", "loss", "val_loss", "accuracy_at_half", "accuracy_at_0_7", "Precision"}
    scores = trainer.predict(test_x, model.predict)
    at_half, at_0_7 = sklearn_binary(test_y, scores, 0.5), sklearn_binary(test_y, scores, 0.7)
    assert at_half["Accuracy"] != at_0_7["Accuracy"], "the thresholds must give different accuracies"
    assert last["accuracy_at_half"] == pytest.approx(at_half["Accuracy"], abs=TOLERANCE)
    assert last["accuracy_at_0_7"] == pytest.approx(at_0_7["Accuracy"], abs=TOLERANCE)
    assert last["Precision"] == pytest.approx(at_half["Precision"], abs=TOLERANCE)


def test_metrics_add_up_the_test_set_in_several_batches(graph):
    model = ms.model.logistic_regression(3)
    counting = BatchCountingAccuracy(model.predict, model.label)
    trainer, test_x, test_y = run(graph, model, noisy_binary, [counting])

    assert len(counting.batch_sizes) > 1, "the test set was evaluated in one batch"
    assert sum(counting.batch_sizes) == TEST_SIZE
    assert counting.batch_sizes[-1] < counting.batch_sizes[0], "the last batch is the partial one"
    expected = sklearn_binary(test_y, trainer.predict(test_x, model.predict))["Accuracy"]
    assert trainer.history[-1]["BatchCountingAccuracy"] == pytest.approx(expected, abs=TOLERANCE)
