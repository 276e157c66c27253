"""Chapter 9: the book's SimpleTrainer programs, written as the book writes them.

``simple_trainer_example.py`` (a network on MNIST) and ``deepfm_titanic_train_eval.py``
(DeepFM on the Titanic passengers), at a size that runs in seconds on the original too:
the MNIST network becomes an ``ms.layer.fc`` network on scikit-learn's bundled 8x8
digits (pixels 0-16, so scaled by /16 where the book scales MNIST by /255), and the
Titanic program reads this repository's offline ``datasets.load_titanic``.

Each program is a module-level function of its seed and settings returning what the
book prints, so ``PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION=python python -m
tests.book.measure_with_original /work/orig test_ch09_trainer <function> [args]`` runs the
very same code on the original package (the environment variable lets the original's
old generated protobuf modules import); the figures asserted below were measured that
way (same data, same seed) and are the original's.
"""

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.preprocessing import OneHotEncoder

import matrixslow as ms
from matrixslow import datasets
from matrixslow.trainer import SimpleTrainer

# The original's iteration line does float() on a 1x1 np.matrix, which NumPy 2.4 refuses
# ("only 0-dimensional arrays can be converted"); an interval past the data size keeps
# the original from printing it, so that it can be measured. Ours would print it.
PAST_THE_DATA = 10_000


def digits(samples):
    """The first ``samples`` 8x8 digits as rows of 64 pixels in [0, 1], and their one-hot labels."""
    X, y = load_digits(return_X_y=True)
    X, y = X[:samples] / 16, y.astype(int)[:samples]
    # scikit-learn 1.2 renamed the book's OneHotEncoder(sparse=False).
    oh = OneHotEncoder(sparse_output=False)
    return X, oh.fit_transform(y.reshape(-1, 1))


def digits_network(hidden):
    """The book's classifier, built into the default graph: input, one-hot label, logits, loss."""
    x = ms.core.Variable(dim=(64, 1), init=False, trainable=False)
    one_hot = ms.core.Variable(dim=(10, 1), init=False, trainable=False)
    fc1 = ms.layer.fc(x, 64, hidden, "ReLU")
    output = ms.layer.fc(fc1, hidden, 10, "None")
    loss = ms.ops.loss.CrossEntropyWithSoftMax(output, one_hot)
    return x, one_hot, output, loss


def simple_trainer_train_and_eval(seed=0, epochs=8, train_samples=1000, test_samples=797):
    """``train_and_eval`` with a test set: the Accuracy metric on it after the last epoch."""
    np.random.seed(seed)
    X, one_hot_label = digits(train_samples + test_samples)
    x, one_hot, output, loss = digits_network(hidden=32)
    optimizer = ms.optimizer.Adam(ms.default_graph, loss, 0.005)
    accuracy = ms.ops.metrics.Accuracy(output, one_hot)
    trainer = SimpleTrainer(
        [x],
        one_hot,
        loss,
        optimizer,
        epoches=epochs,
        batch_size=16,
        eval_on_train=True,
        metrics_ops=[accuracy],
        print_iteration_interval=PAST_THE_DATA,
    )
    train, test = slice(0, train_samples), slice(train_samples, None)
    trainer.train_and_eval({x.name: X[train]}, one_hot_label[train], {x.name: X[test]}, one_hot_label[test])
    return accuracy.value


def simple_trainer_train(
    seed=0,
    train_samples=1000,
    test_samples=797,
    batch_size=8,
    optimizer="Adam",
    learning_rate=0.005,
    optimizer_options=None,
    **options,
):
    """The book's own call, ``trainer.train(...)``: ONE epoch whatever ``epoches`` says; then ``trainer.eval``.

    ``optimizer_options`` go to the optimizer, ``options`` to the trainer as further keywords
    (the original ignores them).
    """
    np.random.seed(seed)
    X, one_hot_label = digits(train_samples + test_samples)
    x, one_hot, output, loss = digits_network(hidden=32)
    optimizer = getattr(ms.optimizer, optimizer)(ms.default_graph, loss, learning_rate, **(optimizer_options or {}))
    accuracy = ms.ops.metrics.Accuracy(output, one_hot)
    trainer = SimpleTrainer(
        [x],
        one_hot,
        loss,
        optimizer,
        epoches=10,
        batch_size=batch_size,
        metrics_ops=[accuracy],
        print_iteration_interval=PAST_THE_DATA,
        **options,
    )
    train, test = slice(0, train_samples), slice(train_samples, None)
    trainer.train({x.name: X[train]}, one_hot_label[train])
    trainer.eval({x.name: X[test]}, one_hot_label[test])
    return accuracy.value


def titanic_features(samples):
    """The book's feature layout on this repository's Titanic table.

    The book's columns are Pclass, Sex (one-hot), Age, SibSp, Parch, Fare, then
    Embarked (one-hot); this table has no fare and no port, so the third one-hot
    field is whether the age was missing. Returns train and test features and
    labels in {-1, 1}, the train part cut to ``samples`` passengers.
    """
    data = datasets.load_titanic(seed=0)

    def layout(x):
        missing = x[:, [6]]
        return np.concatenate([x[:, 0:3], x[:, 3:5], x[:, [5]], x[:, [7]], x[:, [8]], 1 - missing, missing], axis=1)

    return (
        layout(data.train_x)[:samples],
        data.train_y[:samples] * 2 - 1,
        layout(data.test_x),
        data.test_y * 2 - 1,
    )


def deepfm_titanic(seed=0, epochs=5, samples=981):
    """``deepfm_titanic_train_eval.py``: DeepFM with the book's ``batch=16``; Accuracy and AUC on the test part."""
    np.random.seed(seed)
    features, labels, test_features, test_labels = titanic_features(samples)
    dimension = features.shape[1]
    k = 2

    x = ms.core.Variable(dim=(dimension, 1), init=False, trainable=False)
    x_Pclass = ms.core.Variable(dim=(3, 1), init=False, trainable=False)
    x_Sex = ms.core.Variable(dim=(2, 1), init=False, trainable=False)
    x_Missing = ms.core.Variable(dim=(2, 1), init=False, trainable=False)
    label = ms.core.Variable(dim=(1, 1), init=False, trainable=False)

    w = ms.core.Variable(dim=(1, dimension), init=True, trainable=True)
    E_Pclass = ms.core.Variable(dim=(k, 3), init=True, trainable=True)
    E_Sex = ms.core.Variable(dim=(k, 2), init=True, trainable=True)
    E_Missing = ms.core.Variable(dim=(k, 2), init=True, trainable=True)
    b = ms.core.Variable(dim=(1, 1), init=True, trainable=True)

    embedding = ms.ops.Concat(
        ms.ops.MatMul(E_Pclass, x_Pclass), ms.ops.MatMul(E_Sex, x_Sex), ms.ops.MatMul(E_Missing, x_Missing)
    )
    fm = ms.ops.Add(ms.ops.MatMul(w, x), ms.ops.MatMul(ms.ops.Reshape(embedding, shape=(1, 3 * k)), embedding))
    hidden_1 = ms.layer.fc(embedding, 3 * k, 8, "ReLU")
    hidden_2 = ms.layer.fc(hidden_1, 8, 4, "ReLU")
    deep = ms.layer.fc(hidden_2, 4, 1, None)
    output = ms.ops.Add(fm, deep, b)
    loss = ms.ops.loss.LogLoss(ms.ops.Multiply(label, output))
    optimizer = ms.optimizer.Adam(ms.default_graph, loss, 0.005)

    accuracy = ms.ops.metrics.Accuracy(output, label)
    auc = ms.ops.metrics.ROC_AUC(output, label)
    # The book's batch=16: the original ignored it and trained with batch_size=8; ours warns and uses 16.
    trainer = SimpleTrainer(
        [x, x_Pclass, x_Sex, x_Missing],
        label,
        loss,
        optimizer,
        epoches=epochs,
        batch=16,
        eval_on_train=True,
        metrics_ops=[accuracy, auc],
        print_iteration_interval=PAST_THE_DATA,
    )

    def inputs(f):
        return {x.name: f, x_Pclass.name: f[:, :3], x_Sex.name: f[:, 3:5], x_Missing.name: f[:, 8:]}

    trainer.train_and_eval(inputs(features), labels, inputs(test_features), test_labels)
    return accuracy.value, auc.value


# -- the tests ----------------------------------------------------------------


def test_train_and_eval_reaches_the_original_accuracy(capsys):
    # Measured on the original: simple_trainer_train_and_eval 0 -> 0.9134 (seeds 1, 2: 0.9046, 0.9109).
    accuracy = simple_trainer_train_and_eval(seed=0)
    assert accuracy == pytest.approx(0.9134, abs=0.03)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "[INIT] Variable weights init finished"
    assert lines[-1] == f"Epoch [8] evaluation metrics Accuracy: {accuracy:.4f} "


def test_the_books_train_call_is_one_epoch_the_original_runs_exactly_without_shuffling(capsys):
    # Measured on the original: simple_trainer_train 0 1000 797 8 "'GradientDescent'" 0.5 -> 0.7553324968632371.
    # Without shuffling (the original has none) and with a batch size dividing the 1000 samples
    # (the original carries a partial last batch into the next epoch), every update is the original's.
    accuracy = simple_trainer_train(0, 1000, 797, 8, "GradientDescent", 0.5, shuffle=False)
    assert accuracy == pytest.approx(0.7553324968632371, abs=1e-12)
    out = capsys.readouterr().out
    assert "[INIT]" not in out, "train() does not initialise, as in the original"
    assert out.splitlines()[0] == "- Epoch [1] train start, batch size: 8, train data size: 1000"
    assert "Epoch [2]" not in out, "one epoch, whatever epoches=10 says"


# Measured on the original: simple_trainer_train 0 -> 0.8393977415307403 (seeds 1, 2: 0.8394, 0.8381).
ORIGINAL_ONE_EPOCH_ADAM = 0.8394


def test_the_books_train_call_with_the_books_adam_reaches_the_original_accuracy():
    # The original's Adam does not correct the bias of its moment estimates; BOOK_ADAM is that update.
    accuracy = simple_trainer_train(seed=0, optimizer_options=ms.optimizer.BOOK_ADAM)
    assert accuracy == pytest.approx(ORIGINAL_ONE_EPOCH_ADAM, abs=0.03)


def test_our_bias_corrected_adam_takes_smaller_first_steps_than_the_books():
    # Corrected steps are up to 2.13x smaller early on, so after the book's single epoch ours is behind it
    # (converged runs agree, see test_train_and_eval_reaches_the_original_accuracy) but has learned.
    accuracy = simple_trainer_train(seed=0)
    assert 0.6 < accuracy < ORIGINAL_ONE_EPOCH_ADAM - 0.03


def test_deepfm_with_the_books_batch_keyword_reaches_the_original_result(capsys):
    # Measured on the original: deepfm_titanic 0 -> accuracy 0.7896, AUC 0.8500 (seeds 1, 2: 0.7927, 0.7957),
    # where batch=16 was ignored and batch_size was 8. Read as batch_size=16 it reaches the same result.
    with pytest.warns(UserWarning, match=r"batch=16 is read as batch_size=16\. The original MatrixSlow ignored"):
        accuracy, auc = deepfm_titanic(seed=0)
    assert accuracy == pytest.approx(0.7896, abs=0.03)
    assert auc == pytest.approx(0.8500, abs=0.03)
    out = capsys.readouterr().out
    assert "- Epoch [1] train start, batch size: 16, train data size: 981" in out.splitlines()
    assert out.splitlines()[-1].startswith("Epoch [5] evaluation metrics Accuracy: ")
