"""Chapter 4: the book's ``logistic_regression.py`` and ``logistic_regression_multiclass.py``, as the book writes them.

``logistic_regression.py`` is chapter 2's classifier with a ``Logistic`` output and the
``LogLoss`` of ``label * output``, trained by the book's Adam (``one_step()`` per sample,
``update()`` every 16). ``logistic_regression_multiclass.py`` is softmax regression on the
iris flowers with ``CrossEntropyWithSoftMax``. The book reads ``data/Iris.csv``; here the
same 150 flowers come from scikit-learn's bundled ``load_iris``, put in a table with the
CSV's column names and species strings, and the book's ``data.sample(len(data))`` shuffles
them with NumPy's global RNG as before. The book's binary run of 50 epochs becomes 20; its
multiclass loop runs 2 epochs (its comment says 200), kept as the book's call, and a 30-epoch
run shows where it converges.

Each program is a module-level function of its seed and settings returning the accuracy the
book prints after each epoch, so ``PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION=python python -m
tests.book.measure_with_original /work/orig test_ch04_logistic <function> [args]`` runs the
very same code on the original. For NumPy 2 and scikit-learn 1.9 the book's ``np.mat`` is
written ``np.asmatrix``, ``astype(np.int)`` is ``astype(int)`` and ``OneHotEncoder(sparse=False)``
is ``OneHotEncoder(sparse_output=False)``.

Both programs train with Adam, and ours corrects the bias of its moment estimates where the
book's does not (the book's first ~100 steps are up to 2x larger), so the runs cannot be the
original's: converged accuracies are held within 0.03 of the original's. With the book's
update rule (``Adam(..., **ms.optimizer.BOOK_ADAM)``) every figure is the original's exactly.
"""

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_iris
from sklearn.preprocessing import LabelEncoder, OneHotEncoder

import matrixslow as ms
from tests.book.test_ch02_adaline import gender_samples
from tests.book.test_ch03_optimizers import books_adam

# Measured on the original: measure_with_original /work/orig test_ch04_logistic logistic_regression 0 20
# (seeds 1, 2 end at 0.914, 0.900; ours: 0.913, 0.894).
ORIGINAL_LOGISTIC_ACCURACIES = [
    0.57, 0.595, 0.695, 0.759, 0.802, 0.83, 0.849, 0.862, 0.872, 0.879,
    0.887, 0.893, 0.896, 0.901, 0.902, 0.911, 0.913, 0.915, 0.916, 0.915,
]  # fmt: skip

# Measured on the original: measure_with_original /work/orig test_ch04_logistic logistic_regression_multiclass 0 2
ORIGINAL_MULTICLASS_BOOKS_2_EPOCHS = [100 / 150, 124 / 150]
# Measured on the original: measure_with_original /work/orig test_ch04_logistic logistic_regression_multiclass 0 30
# ends at 145/150 (seeds 1, 2: 145/150, 147/150; ours: 146/150, 147/150).
ORIGINAL_MULTICLASS_30_EPOCHS_FINAL = 145 / 150

IRIS_FEATURES = ["SepalLengthCm", "SepalWidthCm", "PetalLengthCm", "PetalWidthCm"]


def logistic_graph():
    """The book's logistic regression: x (3x1), label (1x1), w (1x3), b (1x1), output, predict, loss."""
    x = ms.core.Variable(dim=(3, 1), init=False, trainable=False)
    label = ms.core.Variable(dim=(1, 1), init=False, trainable=False)
    w = ms.core.Variable(dim=(1, 3), init=True, trainable=True)
    b = ms.core.Variable(dim=(1, 1), init=True, trainable=True)
    output = ms.ops.Add(ms.ops.MatMul(w, x), b)
    predict = ms.ops.Logistic(output)
    loss = ms.ops.loss.LogLoss(ms.ops.Multiply(label, output))
    return x, label, w, b, output, predict, loss


def logistic_regression(seed=0, epochs=20, per_class=500, learning_rate=0.0001, batch_size=16, adam=None):
    """``logistic_regression.py`` (``adam`` replaces ``ms.optimizer.Adam``); the accuracy after each epoch."""
    np.random.seed(seed)
    train_set = gender_samples(per_class)
    x, label, w, b, output, predict, loss = logistic_graph()
    optimizer = (adam or ms.optimizer.Adam)(ms.default_graph, loss, learning_rate)

    accuracies = []
    for epoch in range(epochs):
        batch_count = 0
        for i in range(len(train_set)):
            x.set_value(np.asmatrix(train_set[i, :-1]).T)
            label.set_value(np.asmatrix(train_set[i, -1]))
            optimizer.one_step()
            batch_count += 1
            if batch_count >= batch_size:
                optimizer.update()
                batch_count = 0

        pred = []
        for i in range(len(train_set)):
            x.set_value(np.asmatrix(train_set[i, :-1]).T)
            predict.forward()
            pred.append(predict.value[0, 0])  # the probability of a man
        pred = (np.array(pred) > 0.5).astype(int) * 2 - 1
        accuracy = (train_set[:, -1] == pred).astype(int).sum() / len(train_set)
        print(f"epoch: {epoch + 1:d}, accuracy: {accuracy:.3f}")
        accuracies.append(float(accuracy))
    return accuracies


def iris_table():
    """The 150 iris flowers as the book's CSV has them (without its Id column): four feature columns and Species."""
    iris = load_iris()
    data = pd.DataFrame(iris.data, columns=IRIS_FEATURES)
    data["Species"] = ["Iris-" + iris.target_names[target] for target in iris.target]
    return data


def softmax_graph():
    """The book's softmax regression: x (4x1), one_hot (3x1), W (3x4), b (3x1), predict, loss."""
    x = ms.core.Variable(dim=(4, 1), init=False, trainable=False)
    one_hot = ms.core.Variable(dim=(3, 1), init=False, trainable=False)
    W = ms.core.Variable(dim=(3, 4), init=True, trainable=True)
    b = ms.core.Variable(dim=(3, 1), init=True, trainable=True)
    linear = ms.ops.Add(ms.ops.MatMul(W, x), b)
    predict = ms.ops.SoftMax(linear)
    loss = ms.ops.loss.CrossEntropyWithSoftMax(linear, one_hot)
    return x, one_hot, linear, predict, loss


def logistic_regression_multiclass(seed=0, epochs=2, learning_rate=0.02, batch_size=16, adam=None):
    """``logistic_regression_multiclass.py`` (``adam`` replaces ``ms.optimizer.Adam``); the accuracy per epoch."""
    np.random.seed(seed)
    data = iris_table()
    data = data.sample(len(data), replace=False)  # NumPy's global RNG, as in the book
    le = LabelEncoder()
    number_label = le.fit_transform(data["Species"])
    oh = OneHotEncoder(sparse_output=False)
    one_hot_label = oh.fit_transform(number_label.reshape(-1, 1))
    features = data[IRIS_FEATURES].values

    x, one_hot, linear, predict, loss = softmax_graph()
    optimizer = (adam or ms.optimizer.Adam)(ms.default_graph, loss, learning_rate)

    accuracies = []
    for epoch in range(epochs):
        batch_count = 0
        for i in range(len(features)):
            x.set_value(np.asmatrix(features[i, :]).T)
            one_hot.set_value(np.asmatrix(one_hot_label[i, :]).T)
            optimizer.one_step()
            batch_count += 1
            if batch_count >= batch_size:
                optimizer.update()
                batch_count = 0

        pred = []
        for i in range(len(features)):
            x.set_value(np.asmatrix(features[i, :]).T)
            predict.forward()
            pred.append(predict.value.A.ravel())  # three probabilities
        pred = np.array(pred).argmax(axis=1)
        accuracy = (number_label == pred).astype(int).sum() / len(data)
        print(f"epoch: {epoch + 1:d}, accuracy: {accuracy:.3f}")
        accuracies.append(float(accuracy))
    return accuracies


# -- the tests ----------------------------------------------------------------


def test_logistic_regression_reaches_the_originals_accuracy(capsys):
    accuracies = logistic_regression(seed=0, epochs=20)
    assert accuracies[-1] == pytest.approx(ORIGINAL_LOGISTIC_ACCURACIES[-1], abs=0.03)
    assert accuracies[-1] > 0.88
    lines = capsys.readouterr().out.splitlines()
    assert lines == [f"epoch: {epoch + 1}, accuracy: {accuracy:.3f}" for epoch, accuracy in enumerate(accuracies)]


def test_logistic_regression_with_the_books_adam_is_the_original_exactly():
    assert logistic_regression(seed=0, epochs=20, adam=books_adam) == ORIGINAL_LOGISTIC_ACCURACIES


def test_the_logistic_output_and_log_loss_the_book_reads():
    np.random.seed(0)
    x, label, w, b, output, predict, loss = logistic_graph()
    x.set_value(np.asmatrix([158.0, 57.0, 22.0]).T)
    label.set_value(np.asmatrix(-1.0))
    loss.forward()
    predict.forward()
    z = output.value[0, 0]
    assert predict.value[0, 0] == pytest.approx(1 / (1 + np.exp(-z)), rel=1e-12)
    assert loss.value[0, 0] == pytest.approx(np.log(1 + np.exp(z)), rel=1e-12)  # log(1 + e^(-label * z))
    w.backward(loss)
    assert w.jacobi.shape == (1, 3)
    # d/dw log(1 + e^(-label w x)) = -label x / (1 + e^(label w x)), label = -1
    np.testing.assert_allclose(w.jacobi, [[158.0, 57.0, 22.0]] / (1 + np.exp(-z)), rtol=1e-10)


def test_iris_table_is_the_books_csv_layout():
    data = iris_table()
    assert data.shape == (150, 5)
    assert list(data.columns) == [*IRIS_FEATURES, "Species"]
    assert sorted(set(data["Species"])) == ["Iris-setosa", "Iris-versicolor", "Iris-virginica"]


def test_the_books_two_epoch_multiclass_run_with_the_books_adam_is_the_original_exactly(capsys):
    accuracies = logistic_regression_multiclass(seed=0, epochs=2, adam=books_adam)
    assert accuracies == pytest.approx(ORIGINAL_MULTICLASS_BOOKS_2_EPOCHS, abs=1e-12)
    assert capsys.readouterr().out.splitlines() == ["epoch: 1, accuracy: 0.667", "epoch: 2, accuracy: 0.827"]


def test_the_books_two_epoch_multiclass_run_with_our_adam_is_behind_but_learning():
    # Our bias-corrected steps are up to 2.13x smaller in the first updates: after the book's 18 the
    # original is at 0.827 and ours behind it (converged runs agree, the test below).
    accuracies = logistic_regression_multiclass(seed=0, epochs=2)
    assert 0.5 < accuracies[-1] < ORIGINAL_MULTICLASS_BOOKS_2_EPOCHS[-1] - 0.03


def test_multiclass_converges_to_the_originals_accuracy():
    accuracies = logistic_regression_multiclass(seed=0, epochs=30)
    assert accuracies[-1] == pytest.approx(ORIGINAL_MULTICLASS_30_EPOCHS_FINAL, abs=0.03)
    assert accuracies[-1] > 0.9


def test_the_softmax_output_and_cross_entropy_the_book_reads():
    np.random.seed(0)
    x, one_hot, linear, predict, loss = softmax_graph()
    x.set_value(np.asmatrix([5.1, 3.5, 1.4, 0.2]).T)
    one_hot.set_value(np.asmatrix([1.0, 0.0, 0.0]).T)
    loss.forward()
    predict.forward()
    probabilities = predict.value.A.ravel()
    assert probabilities.shape == (3,)
    assert probabilities.sum() == pytest.approx(1.0, abs=1e-12)
    z = linear.value.A1  # computed on the way to loss, and readable the book's way too
    np.testing.assert_allclose(probabilities, np.exp(z) / np.exp(z).sum(), rtol=1e-12)
    assert loss.value[0, 0] == pytest.approx(-np.log(probabilities[0]), rel=1e-12)
