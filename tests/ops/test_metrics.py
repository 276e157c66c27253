"""Metrics accumulate over samples and batches and agree with sklearn.metrics."""

import re
import warnings

import numpy as np
import pytest
from sklearn import metrics as sk

import matrixslow as ms
from matrixslow.core import GraphError, ShapeError, Variable
from matrixslow.ops.metrics import ROC, ROC_AUC, Accuracy, F1Score, Precision, Recall

# Uneven batches, single samples fed as 2-D values and a batch of one; 60 samples in all.
SINGLE = object()  # marks a chunk of one sample fed as a 2-D (k, 1) value
CHUNKS = [7, SINGLE, 13, SINGLE, 1, 25, 3, 9]
SEEDS = [0, 1, 2]


def chunk_bounds():
    start = 0
    for chunk in CHUNKS:
        size = 1 if chunk is SINGLE else chunk
        yield start, start + size, chunk is SINGLE
        start += size


def binary_problem(seed, negative, ties=False):
    """Scores in [0, 1] (rounded to one decimal for ties) and labels in {negative, 1}."""
    rng = np.random.default_rng(seed)
    scores = rng.random(60)
    if ties:
        scores = np.round(scores, 1)
    labels = rng.choice([negative, 1], size=60)
    return scores[:, None, None], labels[:, None, None].astype(float)


def multi_class_problem(seed, classes, used=None):
    """Random scores and one-hot labels drawn from the first ``used`` of ``classes`` classes.

    With ``used``, the last class is never predicted either (its scores are far below the others).
    """
    rng = np.random.default_rng(seed)
    scores = rng.normal(size=(60, classes, 1))
    truth = rng.integers(0, used or classes, size=60)
    if used:
        scores[:, -1] -= 100.0
    return scores, np.eye(classes)[truth][:, :, None]


PROBLEMS = {
    "binary {-1, 1}": lambda seed: binary_problem(seed, -1),
    "binary {0, 1}": lambda seed: binary_problem(seed, 0),
    "3 classes": lambda seed: multi_class_problem(seed, 3),
    # Class 3 is predicted but never a label; class 4 is neither, so the macro average skips it.
    "5 classes, 3 used": lambda seed: multi_class_problem(seed, 5, used=3),
}


def inputs(classes):
    return Variable((classes, 1), trainable=False), Variable((classes, 1), trainable=False)


def feed(prediction, label, scores, labels, start, stop, single):
    if single:
        prediction.set_value(scores[start])
        label.set_value(labels[start])
    else:
        prediction.set_value(scores[start:stop])
        label.set_value(labels[start:stop])


def sklearn_labels(scores, labels, threshold=0.5):
    """True and predicted classes as sklearn takes them, computed independently of the metrics."""
    if scores.shape[1] == 1:
        truth = labels[:, 0, 0]
        negative = -1.0 if (truth == -1.0).any() else 0.0
        return truth, np.where(scores[:, 0, 0] >= threshold, 1.0, negative)
    return labels[:, :, 0].argmax(axis=1), scores[:, :, 0].argmax(axis=1)


def sklearn_score(metric_class, truth, predicted, multi_class):
    if metric_class is Accuracy:
        return sk.accuracy_score(truth, predicted)
    function = {Precision: sk.precision_score, Recall: sk.recall_score, F1Score: sk.f1_score}[metric_class]
    return function(truth, predicted, average="macro" if multi_class else "binary", zero_division=0)


class TestCountingMetricsMatchSklearn:
    @pytest.mark.parametrize("seed", SEEDS)
    @pytest.mark.parametrize("problem", PROBLEMS)
    @pytest.mark.parametrize("metric_class", [Accuracy, Precision, Recall, F1Score])
    def test_value_after_every_batch_is_the_metric_of_everything_seen(self, graph, metric_class, problem, seed):
        scores, labels = PROBLEMS[problem](seed)
        prediction, label = inputs(scores.shape[1])
        metric = metric_class(prediction, label)
        for start, stop, single in chunk_bounds():
            feed(prediction, label, scores, labels, start, stop, single)
            metric.forward()
            truth, predicted = sklearn_labels(scores[:stop], labels[:stop])
            expected = sklearn_score(metric_class, truth, predicted, scores.shape[1] > 1)
            assert metric.value == pytest.approx(expected, abs=1e-9), (start, stop)
        assert stop == 60

    @pytest.mark.parametrize("metric_class", [Accuracy, Precision, Recall, F1Score])
    def test_the_threshold_decides_the_binary_prediction_and_is_kept_in_kargs(self, graph, metric_class):
        scores, labels = binary_problem(3, 0)
        prediction, label = inputs(1)
        metric = metric_class(prediction, label, threshold=0.3)
        prediction.set_value(scores)
        label.set_value(labels)
        metric.forward()
        truth, predicted = sklearn_labels(scores, labels, threshold=0.3)
        assert metric.value == pytest.approx(sklearn_score(metric_class, truth, predicted, False), abs=1e-9)
        assert metric.kargs == {"threshold": 0.3}

    def test_a_score_equal_to_the_threshold_is_positive(self, graph):
        prediction, label = inputs(1)
        accuracy = Accuracy(prediction, label)
        prediction.set_value(np.array([0.5, 0.49]).reshape(2, 1, 1))
        label.set_value(np.array([1.0, -1.0]).reshape(2, 1, 1))
        assert accuracy.forward() == 1.0

    def test_precision_is_zero_when_nothing_is_predicted_positive(self, graph):
        prediction, label = inputs(1)
        precision, f1 = Precision(prediction, label), F1Score(prediction, label)
        prediction.set_value(np.full((3, 1, 1), 0.1))
        label.set_value(np.array([1.0, 0.0, 1.0]).reshape(3, 1, 1))
        assert precision.forward() == 0.0
        assert f1.forward() == 0.0

    def test_float32_graphs_give_the_same_counts(self):
        scores, labels = multi_class_problem(4, 3)
        with ms.core.Graph(dtype=np.float32):
            prediction, label = inputs(3)
            metric = F1Score(prediction, label)
            prediction.set_value(scores)
            label.set_value(labels)
            metric.forward()
        truth, predicted = sklearn_labels(scores.astype(np.float32), labels)
        assert metric.value == pytest.approx(sklearn_score(F1Score, truth, predicted, True), abs=1e-9)


class TestRocMatchesSklearn:
    @pytest.mark.parametrize("seed", SEEDS)
    @pytest.mark.parametrize("negative", [-1, 0])
    @pytest.mark.parametrize("ties", [False, True], ids=["distinct scores", "tied scores"])
    def test_the_curve_after_every_batch(self, graph, seed, negative, ties):
        scores, labels = binary_problem(seed, negative, ties)
        prediction, label = inputs(1)
        roc = ROC(prediction, label)
        for start, stop, single in chunk_bounds():
            feed(prediction, label, scores, labels, start, stop, single)
            roc.forward()
            with warnings.catch_warnings():  # sklearn warns while one class is missing, and gives NaN rates
                warnings.simplefilter("ignore")
                expected = sk.roc_curve(labels[:stop, 0, 0], scores[:stop, 0, 0], drop_intermediate=False)
            fpr, tpr, thresholds = roc.value
            for got, want in zip((fpr, tpr, thresholds), expected, strict=True):
                np.testing.assert_allclose(got, want, rtol=0, atol=1e-9)
        np.testing.assert_allclose(roc.fpr, expected[0], rtol=0, atol=1e-9)
        np.testing.assert_allclose(roc.tpr, expected[1], rtol=0, atol=1e-9)
        np.testing.assert_array_equal(roc.thresholds, expected[2])
        assert roc.value.shape == (3, len(expected[0]))

    @pytest.mark.parametrize("seed", SEEDS)
    @pytest.mark.parametrize("negative", [-1, 0])
    @pytest.mark.parametrize("ties", [False, True], ids=["distinct scores", "tied scores"])
    def test_the_area_after_every_batch_with_both_classes(self, graph, seed, negative, ties):
        scores, labels = binary_problem(seed, negative, ties)
        prediction, label = inputs(1)
        auc = ROC_AUC(prediction, label)
        for start, stop, single in chunk_bounds():
            feed(prediction, label, scores, labels, start, stop, single)
            auc.forward()
            seen = labels[:stop, 0, 0]
            if len(set(seen)) == 2:
                assert auc.value == pytest.approx(sk.roc_auc_score(seen, scores[:stop, 0, 0]), abs=1e-9)
            else:
                assert np.isnan(auc.value)
        assert auc.result() == pytest.approx(sk.roc_auc_score(labels[:, 0, 0], scores[:, 0, 0]), abs=1e-9)

    def test_the_area_is_nan_until_both_classes_arrive_one_sample_at_a_time(self, graph):
        prediction, label = inputs(1)
        auc = ROC_AUC(prediction, label)
        for score, truth in [(0.9, 1.0), (0.7, 1.0), (0.8, -1.0)]:
            prediction.set_value([[score]])
            label.set_value([[truth]])
            auc.forward()
        # Positives 0.9 and 0.7 against the negative 0.8: one of two pairs ranked right.
        assert auc.value == 0.5

    def test_the_value_str_of_roc_counts_points_and_samples(self, graph):
        prediction, label = inputs(1)
        roc = ROC(prediction, label)
        prediction.set_value(np.array([0.2, 0.2, 0.9]).reshape(3, 1, 1))
        label.set_value(np.array([0.0, 1.0, 1.0]).reshape(3, 1, 1))
        roc.forward()
        assert roc.value_str() == "ROC: 3 points over 2 positive and 1 negative samples"


class TestAccumulation:
    def test_forward_twice_on_one_batch_counts_it_once(self, graph):
        scores, labels = binary_problem(5, -1)
        prediction, label = inputs(1)
        accuracy, auc = Accuracy(prediction, label), ROC_AUC(prediction, label)
        prediction.set_value(scores[:20])
        label.set_value(labels[:20])
        for _ in range(3):
            accuracy.forward()
            auc.forward()
        assert accuracy.confusion.sum() == 20
        assert sum(auc.class_totals()) == 20
        prediction.set_value(scores[20:])
        label.set_value(labels[20:])
        accuracy.forward()
        truth, predicted = sklearn_labels(scores, labels)
        assert accuracy.value == pytest.approx(sk.accuracy_score(truth, predicted), abs=1e-9)

    def test_the_totals_survive_set_value_which_forgets_the_value(self, graph):
        scores, labels = multi_class_problem(6, 4)
        prediction, label = inputs(4)
        recall = Recall(prediction, label)
        prediction.set_value(scores)
        label.set_value(labels)
        recall.forward()
        label.set_value(labels[:5])
        assert recall.value is None
        truth, predicted = sklearn_labels(scores, labels)
        expected = sk.recall_score(truth, predicted, average="macro", zero_division=0)
        assert recall.result() == pytest.approx(expected, abs=1e-9)
        assert recall.value_str() == f"Recall: {expected:.4f}"

    @pytest.mark.parametrize("metric_class", [Accuracy, Precision, Recall, F1Score, ROC, ROC_AUC])
    def test_reset_forgets_everything_seen(self, graph, metric_class):
        scores, labels = binary_problem(7, 0)
        prediction, label = inputs(1)
        metric = metric_class(prediction, label)
        prediction.set_value(scores[:30])
        label.set_value(labels[:30])
        metric.forward()
        metric.reset()
        assert metric.value is None
        prediction.set_value(scores[30:])
        label.set_value(labels[30:])
        metric.forward()
        fresh = metric_class(prediction, label)
        fresh.forward()
        truth = labels[30:, 0, 0]
        if metric_class is ROC:
            expected = np.array(sk.roc_curve(truth, scores[30:, 0, 0], drop_intermediate=False))
            np.testing.assert_allclose(metric.value, expected, rtol=0, atol=1e-9)
        elif metric_class is ROC_AUC:
            assert metric.value == pytest.approx(sk.roc_auc_score(truth, scores[30:, 0, 0]), abs=1e-9)
        else:
            truth, predicted = sklearn_labels(scores[30:], labels[30:])
            assert metric.value == pytest.approx(sklearn_score(metric_class, truth, predicted, False), abs=1e-9)
        np.testing.assert_array_equal(metric.value, fresh.value)

    def test_reset_lets_a_new_label_convention_start(self, graph):
        prediction, label = inputs(1)
        accuracy = Accuracy(prediction, label)
        prediction.set_value([[0.1]])
        label.set_value([[-1.0]])
        accuracy.forward()
        accuracy.reset()
        label.set_value([[0.0]])
        assert accuracy.forward() == 1.0

    def test_forward_computes_the_prediction_from_the_network(self, graph):
        rng = np.random.default_rng(8)
        features = rng.normal(size=(40, 3, 1))
        labels = rng.choice([0.0, 1.0], size=(40, 1, 1))
        x = Variable((3, 1), trainable=False)
        label = Variable((1, 1), trainable=False)
        weights = Variable((1, 3), init=True)
        probability = ms.ops.Logistic(ms.ops.MatMul(weights, x))
        accuracy = Accuracy(probability, label)
        x.set_value(features)
        label.set_value(labels)
        accuracy.forward()
        logits = (weights.value @ features)[:, 0, 0]
        predicted = (1.0 / (1.0 + np.exp(-logits)) >= 0.5).astype(float)
        assert probability.value is not None
        assert accuracy.value == pytest.approx(sk.accuracy_score(labels[:, 0, 0], predicted), abs=1e-9)

    @pytest.mark.parametrize("metric_class", [Accuracy, Precision, Recall, F1Score, ROC_AUC])
    def test_value_str_names_the_metric_and_gives_four_decimals(self, graph, metric_class):
        scores, labels = binary_problem(9, -1)
        prediction, label = inputs(1)
        metric = metric_class(prediction, label)
        prediction.set_value(scores)
        label.set_value(labels)
        metric.forward()
        if metric_class is ROC_AUC:
            expected = sk.roc_auc_score(labels[:, 0, 0], scores[:, 0, 0])
        else:
            expected = sklearn_score(metric_class, *sklearn_labels(scores, labels), False)
        text = metric.value_str()
        assert re.fullmatch(rf"{metric_class.__name__}: \d\.\d{{4}}", text)
        assert text == f"{metric_class.__name__}: {expected:.4f}"


class TestNotPartOfTheSavedModel:
    @pytest.mark.parametrize("metric_class", [Accuracy, Precision, Recall, F1Score, ROC, ROC_AUC])
    def test_metrics_are_not_saved_not_registered_and_not_operators(self, graph, metric_class):
        metric = metric_class(*inputs(1))
        assert metric.need_save is False
        assert metric_class.__name__ not in ms.core.NODE_TYPES
        assert metric_class not in ms.core.NODE_TYPES.values()
        assert not issubclass(metric_class, ms.ops.Operator)
        assert isinstance(metric, ms.core.Node)

    def test_need_save_can_still_be_asked_for(self, graph):
        assert Accuracy(*inputs(1), need_save=True).need_save is True

    def test_a_metric_has_no_gradient(self, graph):
        prediction, label = inputs(1)
        prediction.trainable = True
        accuracy = Accuracy(prediction, label, name="acc")
        prediction.set_value([[0.7]])
        label.set_value([[1.0]])
        with pytest.raises(GraphError, match=r"^Accuracy 'acc' is a metric: it has no gradient$"):
            ms.core.backward(accuracy, wrt=[prediction])


class TestErrors:
    def set_inputs(self, prediction_value, label_value, metric_class=Accuracy):
        prediction = Variable(np.shape(prediction_value)[-2:], trainable=False)
        label = Variable(np.shape(label_value)[-2:], trainable=False)
        prediction.set_value(prediction_value)
        label.set_value(label_value)
        return metric_class(prediction, label, name="metric")

    def test_prediction_and_label_shapes_must_match(self, graph):
        metric = self.set_inputs(np.zeros((3, 1)), np.eye(4)[:, [0]])
        message = r"^Accuracy 'metric': prediction of shape \(3, 1\) does not match label of shape \(4, 1\)$"
        with pytest.raises(ShapeError, match=message):
            metric.forward()

    def test_prediction_and_label_must_hold_as_many_samples(self, graph):
        metric = self.set_inputs(np.zeros((5, 1, 1)), np.ones((4, 1, 1)))
        with pytest.raises(ShapeError, match=r"prediction of shape \(5, 1, 1\) does not match label of shape"):
            metric.forward()

    def test_samples_must_be_columns(self, graph):
        metric = self.set_inputs(np.zeros((1, 3)), np.array([[1.0, 0.0, 0.0]]))
        with pytest.raises(ShapeError, match=r"^Accuracy 'metric': expects one column per sample.*got .*\(1, 3\)$"):
            metric.forward()

    @pytest.mark.parametrize("metric_class", [ROC, ROC_AUC])
    def test_roc_metrics_take_binary_scores_only(self, graph, metric_class):
        metric = self.set_inputs(np.zeros((2, 3, 1)), np.eye(3)[[0, 2]][:, :, None], metric_class)
        name = metric_class.__name__
        with pytest.raises(ShapeError, match=rf"^{name} 'metric': is defined for binary problems only.*got \(3, 1\)"):
            metric.forward()

    @pytest.mark.parametrize("bad_label", [0.5, 2.0, -2.0])
    def test_binary_labels_outside_the_conventions(self, graph, bad_label):
        metric = self.set_inputs(np.zeros((3, 1, 1)), np.array([1.0, bad_label, 1.0]).reshape(3, 1, 1), Precision)
        message = rf"^Precision 'metric': binary labels must be in \{{-1, 1\}} or \{{0, 1\}}, got {bad_label:g}$"
        with pytest.raises(ValueError, match=message):
            metric.forward()

    def test_the_two_label_conventions_may_not_mix_across_batches(self, graph):
        metric = self.set_inputs(np.zeros((1, 1)), np.array([[-1.0]]), Recall)
        metric.forward()
        metric.parents[1].set_value([[0.0]])
        with pytest.raises(ValueError, match=r"labels mix the conventions \{-1, 1\} and \{0, 1\}"):
            metric.forward()

    def test_multi_class_labels_must_be_one_hot(self, graph):
        labels = np.eye(3)[[0, 1, 2]][:, :, None]
        labels[1, 2, 0] = 1.0
        metric = self.set_inputs(np.zeros((3, 3, 1)), labels, F1Score)
        with pytest.raises(ValueError, match=r"one-hot \(3, 1\) columns, sample 1 is \[0\.0, 1\.0, 1\.0\]$"):
            metric.forward()

    @pytest.mark.parametrize("bad_score", [np.nan, np.inf])
    def test_scores_must_be_finite(self, graph, bad_score):
        metric = self.set_inputs(np.array([[bad_score]]), np.array([[1.0]]), ROC)
        with pytest.raises(ValueError, match=r"^ROC 'metric': the prediction holds NaN or infinite scores$"):
            metric.forward()

    def test_roc_auc_of_one_class_is_not_defined(self, graph):
        metric = self.set_inputs(np.array([0.3, 0.8]).reshape(2, 1, 1), np.ones((2, 1, 1)), ROC_AUC)
        metric.forward()
        assert np.isnan(metric.value)
        message = r"^ROC_AUC 'metric': only one class present .* \(2 positive, 0 negative\); ROC AUC is not defined"
        with pytest.raises(ValueError, match=message):
            metric.value_str()
        with pytest.raises(ValueError, match=message):
            metric.result()

    def test_roc_auc_before_any_sample(self, graph):
        metric = ROC_AUC(*inputs(1), name="metric")
        with pytest.raises(ValueError, match=r"^ROC_AUC 'metric': no labels seen since the last reset\(\)"):
            metric.result()

    def test_a_rejected_batch_leaves_the_totals_untouched(self, graph):
        scores, labels = binary_problem(10, -1)
        prediction, label = inputs(1)
        accuracy = Accuracy(prediction, label)
        prediction.set_value(scores[:30])
        label.set_value(labels[:30])
        accuracy.forward()
        label.set_value(np.full((30, 1, 1), 0.0))  # the other convention: rejected
        with pytest.raises(ValueError, match="labels mix the conventions"):
            accuracy.forward()
        prediction.set_value(scores[30:])
        label.set_value(labels[30:])
        accuracy.forward()
        assert accuracy.value == pytest.approx(sk.accuracy_score(*sklearn_labels(scores, labels)), abs=1e-9)
