"""The Trainer as the book calls it: ``batch=``, ``train``/``eval`` on dicts, and the original's lines on stdout."""

import re
import warnings

import numpy as np
import pytest

import matrixslow as ms
from matrixslow.trainer import SimpleTrainer

TIME = r"\d+\.\d\d"  # the original's time costs: {:.2f}


def classifier():
    x = ms.Variable(dim=(3, 1), init=False, trainable=False, name="x")
    y = ms.Variable(dim=(2, 1), init=False, trainable=False, name="y")
    logits = ms.layer.fc(x, 3, 2, None)
    return x, y, logits, ms.ops.loss.CrossEntropyWithSoftMax(logits, y)


def data(count=10, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(count, 3))
    return x, np.eye(2)[(x[:, 0] > 0).astype(int)]


class CountingOptimizer(ms.optimizer.GradientDescent):
    def __init__(self, *args, **kargs):
        super().__init__(*args, **kargs)
        self.update_sizes = []

    def update(self, var_gradients=None):
        self.update_sizes.append(self.acc_no)
        super().update(var_gradients)


def trainer(graph, learning_rate=0.1, **kargs):
    x, y, logits, loss = classifier()
    kargs.setdefault("epoches", 2)
    return SimpleTrainer([x], y, loss, CountingOptimizer(graph, loss, learning_rate), **kargs)


# -- batch= ---------------------------------------------------------------------


def test_the_books_batch_keyword_is_read_as_batch_size_with_a_warning(graph):
    with pytest.warns(UserWarning) as caught:
        book = trainer(graph, batch=3, verbose=False)
    assert book.batch_size == 3
    message = str(caught[0].message)
    assert "batch=3 is read as batch_size=3" in message
    assert "The original MatrixSlow ignored batch= and trained with batch_size=8" in message
    assert caught[0].filename == __file__, "the warning points at the caller's line"
    book.train_and_eval({"x": data(7)[0]}, data(7)[1])
    assert book.optimizer.update_sizes == [3, 3, 1, 3, 3, 1]


def test_batch_size_alone_does_not_warn_and_defaults_to_the_originals_8(graph):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert trainer(graph, batch_size=5).batch_size == 5
        with ms.core.Graph() as own:
            assert trainer(own).batch_size == 8


def test_batch_and_batch_size_together_are_refused(graph):
    with pytest.raises(TypeError, match="got both batch_size=4 and batch=16; pass batch_size only"):
        trainer(graph, batch_size=4, batch=16)


# -- train and eval on the book's dicts ----------------------------------------------


def test_train_runs_one_epoch_over_the_books_dict_without_initialising(graph):
    calls = []

    class Watched(SimpleTrainer):
        def _variable_weights_init(self):
            calls.append("init")

    x, y, _, loss = classifier()
    optimizer = CountingOptimizer(graph, loss, 0.1)
    book = Watched([x], y, loss, optimizer, epoches=10, batch_size=4, verbose=False)
    train_x, train_y = data(10)
    mean_loss = book.train({"x": train_x}, train_y)
    assert optimizer.update_sizes == [4, 4, 2], "one epoch, whatever epoches says"
    assert calls == [] and book.history == []
    assert np.isfinite(mean_loss)


def test_eval_takes_the_books_dict_and_returns_the_metrics(graph):
    x, y, logits, loss = classifier()
    accuracy = ms.ops.metrics.Accuracy(logits, y)
    book = SimpleTrainer([x], y, loss, ms.optimizer.Adam(graph, loss), 1, metrics_ops=[accuracy], verbose=False)
    test_x, test_y = data(9, seed=3)
    results = book.eval({"x": test_x}, test_y)
    assert accuracy.value == results["Accuracy"]
    x.set_value(test_x[:, :, None])
    expected = np.mean(np.argmax(logits.forward()[:, :, 0], axis=1) == np.argmax(test_y, axis=1))
    assert results["Accuracy"] == pytest.approx(expected)


@pytest.mark.parametrize("method", ["train", "eval"])
def test_train_and_eval_name_inputs_that_are_not_the_books_dict(graph, method):
    book = trainer(graph, verbose=False)
    train_x, train_y = data(4)
    with pytest.raises(ms.core.ShapeError, match="must be a dict of input node name -> samples, got ndarray"):
        getattr(book, method)(train_x, train_y)
    with pytest.raises(ms.core.ShapeError, match=r"missing \['x'\], unknown \['z'\]"):
        getattr(book, method)({"z": train_x}, train_y)


def test_without_a_seed_numpys_global_seed_repeats_the_shuffling(graph):
    orders = []
    for global_seed in (7, 7, 8):
        with ms.core.Graph() as own:
            np.random.seed(global_seed)
            book = trainer(own, batch_size=10, verbose=False)
            orders.append(book.rng.permutation(10))
    np.testing.assert_array_equal(orders[0], orders[1])
    assert not np.array_equal(orders[0], orders[2])


# -- the original's lines on stdout ----------------------------------------------------


def test_train_and_eval_prints_the_originals_lines(graph, capsys):
    x, y, logits, loss = classifier()
    accuracy = ms.ops.metrics.Accuracy(logits, y)
    recall = ms.ops.metrics.Recall(logits, y)
    book = SimpleTrainer(
        [x], y, loss, ms.optimizer.Adam(graph, loss), epoches=2, batch_size=4, eval_on_train=True,
        metrics_ops=[accuracy, recall], print_iteration_interval=2,
    )  # fmt: skip
    train_x, train_y = data(10)
    test_x, test_y = data(6, seed=1)
    book.train_and_eval({"x": train_x}, train_y, {"x": test_x}, test_y)
    lines = capsys.readouterr().out.splitlines()
    patterns = ["\\[INIT\\] Variable weights init finished"]
    for epoch in (1, 2):
        patterns += [
            f"- Epoch \\[{epoch}\\] train start, batch size: 4, train data size: 10",
            f"-- iteration \\[1\\] finished, time cost: {TIME}  and loss value: \\d+\\.\\d{{6}}",
            f"- Epoch \\[{epoch}\\] train finished, time cost: {TIME}",
            f"Epoch \\[{epoch}\\] evaluation metrics Accuracy: \\d\\.\\d{{4}} Recall: \\d\\.\\d{{4}} ",
        ]
    assert len(lines) == len(patterns), lines
    for line, pattern in zip(lines, patterns, strict=True):
        assert re.fullmatch(pattern, line), (line, pattern)
    assert lines[-1] == f"Epoch [2] evaluation metrics {accuracy.value_str()} {recall.value_str()} "


def test_the_iteration_line_reports_that_iterations_mean_loss(graph, capsys):
    x, y, _, loss = classifier()
    train_x, train_y = data(8)
    # A learning rate of ~0 keeps the weights, so each batch's loss is known beforehand.
    x.set_value(train_x[:, :, None])
    y.set_value(train_y[:, :, None])
    per_sample = loss.forward()[:, 0, 0]
    book = SimpleTrainer(
        [x], y, loss, ms.optimizer.GradientDescent(graph, loss, 1e-300), 1, 2, print_iteration_interval=1, shuffle=False
    )
    book.train({"x": train_x}, train_y)
    iterations = [line for line in capsys.readouterr().out.splitlines() if line.startswith("-- iteration")]
    assert [line.split("]")[0] for line in iterations] == [f"-- iteration [{i}" for i in range(4)]
    for i, line in enumerate(iterations):
        assert line.endswith(f"and loss value: {per_sample[2 * i : 2 * i + 2].mean():4f}")


def test_an_interval_of_zero_prints_no_iteration_lines(graph, capsys):
    trainer(graph, batch_size=1, print_iteration_interval=0).train_and_eval(*_book_dict(data(5)))
    out = capsys.readouterr().out
    assert "- Epoch [2] train finished" in out and "-- iteration" not in out


def test_verbose_false_prints_nothing(graph, capsys):
    trainer(graph, batch_size=2, print_iteration_interval=1, verbose=False).train_and_eval(*_book_dict(data(5)))
    assert capsys.readouterr().out == ""


def _book_dict(samples):
    x, y = samples
    return {"x": x}, y
