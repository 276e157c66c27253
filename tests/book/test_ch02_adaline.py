"""Chapter 2: the book's ``adaline.py``, written as the book writes it.

ADALINE tells men from women by height, weight and body-fat rate: ``w x + b`` with the
perceptron loss, trained one sample at a time by gradient descent the book does by hand
(``w.backward(loss)``, then ``w.set_value(w.value - lr * w.jacobi.T.reshape(w.shape()))``,
then ``ms.default_graph.clear_jacobi()``). The data are generated as the book does
(``np.random.normal``, 500 of each, shuffled) under ``np.random.seed(seed)``; the book's
50 epochs become 10 so the program runs in about a second.

The program is a module-level function of its seed and settings returning the accuracy the
book prints after each epoch, so ``PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION=python python -m
tests.book.measure_with_original /work/orig test_ch02_adaline adaline 0 10`` runs the very
same code on the original package. For NumPy 2 the book's ``np.mat`` is written
``np.asmatrix`` and ``astype(np.int)`` is ``astype(int)``.

Our ``Variable(init=True)`` draws N(0, 0.001) from the global RNG in node-creation order as
the original does, and every update is the same, so the accuracies are the original's
exactly, epoch by epoch.
"""

import numpy as np
import pytest

import matrixslow as ms

# Measured on the original: measure_with_original /work/orig test_ch02_adaline adaline 0 10
# (seeds 1, 2 end at 0.962, 0.575: the book's unscaled features make the per-epoch accuracy swing).
ORIGINAL_ADALINE_ACCURACIES = [0.536, 0.513, 0.945, 0.965, 0.546, 0.973, 0.564, 0.66, 0.694, 0.705]


def gender_samples(per_class=500):
    """The book's training set: rows of height, weight, body-fat rate and label (1 man, -1 woman), shuffled.

    Chapters 3 and 4 train on the same data.
    """
    male_heights = np.random.normal(171, 6, per_class)
    female_heights = np.random.normal(158, 5, per_class)
    male_weights = np.random.normal(70, 10, per_class)
    female_weights = np.random.normal(57, 8, per_class)
    male_bfrs = np.random.normal(16, 2, per_class)
    female_bfrs = np.random.normal(22, 2, per_class)
    male_labels = [1] * per_class
    female_labels = [-1] * per_class

    train_set = np.array(
        [
            np.concatenate((male_heights, female_heights)),
            np.concatenate((male_weights, female_weights)),
            np.concatenate((male_bfrs, female_bfrs)),
            np.concatenate((male_labels, female_labels)),
        ]
    ).T
    np.random.shuffle(train_set)
    return train_set


def adaline_graph():
    """The book's ADALINE in the default graph: x (3x1), label (1x1), w (1x3), b (1x1), output, predict, loss."""
    x = ms.core.Variable(dim=(3, 1), init=False, trainable=False)
    label = ms.core.Variable(dim=(1, 1), init=False, trainable=False)
    w = ms.core.Variable(dim=(1, 3), init=True, trainable=True)
    b = ms.core.Variable(dim=(1, 1), init=True, trainable=True)
    output = ms.ops.Add(ms.ops.MatMul(w, x), b)
    predict = ms.ops.Step(output)
    loss = ms.ops.loss.PerceptionLoss(ms.ops.MatMul(label, output))
    return x, label, w, b, output, predict, loss


def adaline(seed=0, epochs=10, per_class=500, learning_rate=0.0001):
    """``adaline.py``: per-sample gradient descent written by hand; the training accuracy after each epoch."""
    np.random.seed(seed)
    train_set = gender_samples(per_class)
    x, label, w, b, output, predict, loss = adaline_graph()

    accuracies = []
    for epoch in range(epochs):
        for i in range(len(train_set)):
            x.set_value(np.asmatrix(train_set[i, :-1]).T)
            label.set_value(np.asmatrix(train_set[i, -1]))
            loss.forward()
            w.backward(loss)
            b.backward(loss)
            # The Jacobian of the scalar loss is a 1 x n row: its transpose, shaped like the variable, is the gradient.
            w.set_value(w.value - learning_rate * w.jacobi.T.reshape(w.shape()))
            b.set_value(b.value - learning_rate * b.jacobi.T.reshape(b.shape()))
            ms.default_graph.clear_jacobi()

        pred = []
        for i in range(len(train_set)):
            x.set_value(np.asmatrix(train_set[i, :-1]).T)
            predict.forward()
            pred.append(predict.value[0, 0])  # 1 man, 0 woman
        pred = np.array(pred) * 2 - 1
        accuracy = (train_set[:, -1] == pred).astype(int).sum() / len(train_set)
        print(f"epoch: {epoch + 1:d}, accuracy: {accuracy:.3f}")
        accuracies.append(float(accuracy))
    return accuracies


# -- the tests ----------------------------------------------------------------


def test_the_books_data_are_500_men_and_500_women_shuffled():
    np.random.seed(0)
    train_set = gender_samples()
    assert train_set.shape == (1000, 4)
    assert (train_set[:, -1] == 1).sum() == 500 and (train_set[:, -1] == -1).sum() == 500
    assert not (train_set[:500, -1] == 1).all(), "shuffled, not men first"


def test_adaline_prints_the_originals_accuracies_exactly(capsys):
    accuracies = adaline(seed=0, epochs=10)
    assert accuracies == ORIGINAL_ADALINE_ACCURACIES
    assert max(accuracies) > 0.9, "ADALINE learns to tell the two apart"
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "epoch: 1, accuracy: 0.536"
    assert lines[-1] == f"epoch: 10, accuracy: {accuracies[-1]:.3f}"
    assert len(lines) == 10


def test_the_jacobians_the_book_reads_are_1_by_n_rows_of_the_perceptron_gradient():
    np.random.seed(0)
    x, label, w, b, output, predict, loss = adaline_graph()
    assert w.value.shape == (1, 3) and b.value.shape == (1, 1)
    assert np.std(w.value) < 0.01, "init=True draws N(0, 0.001)"

    features = np.asmatrix([171.0, 70.0, 16.0]).T
    x.set_value(features)
    output.forward()
    wrong = -1.0 if output.value[0, 0] > 0 else 1.0  # the label that makes this sample misclassified
    label.set_value(np.asmatrix(wrong))
    loss.forward()
    assert loss.value[0, 0] == pytest.approx(abs(output.value[0, 0]))

    w.backward(loss)
    b.backward(loss)
    assert w.jacobi.shape == (1, 3) and b.jacobi.shape == (1, 1)
    # The perceptron loss -label * output has gradient -label * x (w) and -label (b).
    np.testing.assert_allclose(w.jacobi, -wrong * features.T, rtol=1e-12)
    np.testing.assert_allclose(b.jacobi, [[-wrong]], rtol=1e-12)
    assert w.jacobi.T.reshape(w.shape()).shape == w.value.shape

    ms.default_graph.clear_jacobi()
    assert w.jacobi is None and b.jacobi is None

    predict.forward()
    assert predict.value[0, 0] == (1.0 if output.value[0, 0] > 0 else 0.0)
