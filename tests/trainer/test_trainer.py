"""SimpleTrainer: mini-batches, shuffling, partial batches, history, evaluation, feeding and hooks."""

import logging

import numpy as np
import pytest

import matrixslow as ms
from matrixslow.trainer import SimpleTrainer, Trainer


def softmax_classifier(features=3, classes=2):
    x = ms.Variable(dim=(features, 1), init=False, trainable=False, name="x")
    y = ms.Variable(dim=(classes, 1), init=False, trainable=False, name="y")
    logits = ms.layer.fc(x, features, classes, None)
    loss = ms.ops.loss.CrossEntropyWithSoftMax(logits, y)
    return x, y, logits, loss


class RecordingOptimizer(ms.optimizer.GradientDescent):
    """Gradient descent that remembers how many samples each update averaged and which inputs it saw."""

    def __init__(self, *args, watched=None, **kargs):
        super().__init__(*args, **kargs)
        self.update_sizes, self.seen, self.watched = [], [], watched

    def one_step(self):
        self.seen.append(np.array(self.watched.value[:, 0, 0]))
        super().one_step()

    def update(self, var_gradients=None):
        self.update_sizes.append(self.acc_no)
        super().update(var_gradients)


def data(count=10, features=3, classes=2, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(count, features))
    x[:, 0] = np.arange(count)  # the first feature identifies each sample
    labels = np.eye(classes)[rng.integers(0, classes, count)]
    return x, labels


def make_trainer(graph, batch_size=4, epoches=1, **kargs):
    x, y, _, loss = softmax_classifier()
    optimizer = RecordingOptimizer(graph, loss, 0.1, watched=x)
    return SimpleTrainer([x], y, loss, optimizer, epoches=epoches, batch_size=batch_size, verbose=False, **kargs)


def test_one_update_per_mini_batch_and_a_smaller_last_batch(graph):
    trainer = make_trainer(graph, batch_size=4, epoches=2)
    train_x, train_y = data(10)
    trainer.train_and_eval({"x": train_x}, train_y)
    assert trainer.optimizer.update_sizes == [4, 4, 2, 4, 4, 2]
    assert len(trainer.optimizer.seen) == 6, "one forward/backward per batch, not per sample"


def test_every_sample_is_seen_once_per_epoch_in_a_seeded_shuffled_order(graph):
    train_x, train_y = data(10)
    orders = []
    for seed in (1, 1, 2):
        with ms.core.Graph() as own:
            trainer = make_trainer(own, batch_size=3, epoches=2, seed=seed)
            trainer.train_and_eval({"x": train_x}, train_y)
            orders.append(np.concatenate(trainer.optimizer.seen))
    first_epoch, second_epoch = orders[0][:10], orders[0][10:]
    assert sorted(first_epoch) == list(range(10)) and sorted(second_epoch) == list(range(10))
    assert not np.array_equal(first_epoch, np.arange(10)), "shuffled"
    assert not np.array_equal(first_epoch, second_epoch), "reshuffled every epoch"
    np.testing.assert_array_equal(orders[0], orders[1])
    assert not np.array_equal(orders[0], orders[2])


def test_without_shuffling_samples_come_in_order(graph):
    trainer = make_trainer(graph, batch_size=3, shuffle=False)
    train_x, train_y = data(7)
    trainer.train_and_eval({"x": train_x}, train_y)
    np.testing.assert_array_equal(np.concatenate(trainer.optimizer.seen), np.arange(7))


def test_the_history_holds_the_mean_training_loss_of_each_epoch(graph):
    x, y, _, loss = softmax_classifier()
    train_x, train_y = data(9)
    # Freeze the weights (learning rate ~0) so the epoch's mean loss is known independently.
    optimizer = ms.optimizer.GradientDescent(graph, loss, 1e-300)
    x.set_value(train_x[:, :, None])
    y.set_value(train_y[:, :, None])
    expected = float(loss.forward().mean())
    trainer = SimpleTrainer([x], y, loss, optimizer, epoches=3, batch_size=4, verbose=False)
    history = trainer.train_and_eval({"x": train_x}, train_y)
    assert [record["epoch"] for record in history] == [1, 2, 3]
    assert history is trainer.history
    for record in history:
        assert record["loss"] == pytest.approx(expected, rel=1e-12)


def test_training_lowers_the_loss(graph):
    x, y, _, loss = softmax_classifier()
    rng = np.random.default_rng(0)
    train_x = rng.normal(size=(200, 3))
    train_y = np.eye(2)[(train_x[:, 0] + train_x[:, 1] > 0).astype(int)]
    optimizer = ms.optimizer.Adam(graph, loss, 0.05)
    history = SimpleTrainer([x], y, loss, optimizer, epoches=5, batch_size=16, verbose=False).train_and_eval(
        {"x": train_x}, train_y
    )
    assert history[-1]["loss"] < 0.5 * history[0]["loss"]


def test_evaluation_reports_the_test_loss_each_epoch(graph):
    x, y, _, loss = softmax_classifier()
    train_x, train_y = data(12, seed=1)
    test_x, test_y = data(5, seed=2)
    optimizer = ms.optimizer.GradientDescent(graph, loss, 0.1)
    trainer = SimpleTrainer([x], y, loss, optimizer, epoches=2, batch_size=5, eval_on_train=True, verbose=False)
    history = trainer.train_and_eval({"x": train_x}, train_y, {"x": test_x}, test_y)
    x.set_value(test_x[:, :, None])
    y.set_value(test_y[:, :, None])
    assert history[-1]["val_loss"] == pytest.approx(float(loss.forward().mean()), rel=1e-12)
    assert all("val_loss" in record for record in history)


def test_samples_as_rows_or_as_matrices_train_the_same(graph):
    rng = np.random.default_rng(0)
    images = rng.normal(size=(6, 2, 3))
    labels = np.eye(2)[[0, 1, 1, 0, 1, 0]]
    results = []
    for samples in (images, images.reshape(6, 6)):
        with ms.core.Graph() as own:
            np.random.seed(0)
            x = ms.Variable(dim=(2, 3), init=False, trainable=False, name="img")
            y = ms.Variable(dim=(2, 1), init=False, trainable=False, name="y")
            logits = ms.layer.fc(ms.ops.Reshape(x, shape=(6, 1)), 6, 2, None)
            loss = ms.ops.loss.CrossEntropyWithSoftMax(logits, y)
            trainer = SimpleTrainer([x], y, loss, ms.optimizer.Adam(own, loss, 0.1), 2, 3, shuffle=False, verbose=False)
            trainer.train_and_eval({"img": samples}, labels)
            results.append(trainer.predict({"img": images}, logits))
    np.testing.assert_array_equal(results[0], results[1])


def test_predict_returns_the_output_for_every_sample(graph):
    x, y, logits, loss = softmax_classifier()
    train_x, _ = data(7)
    trainer = SimpleTrainer([x], y, loss, ms.optimizer.Adam(graph, loss), 1, verbose=False)
    predicted = trainer.predict({"x": train_x}, logits, batch_size=3)
    x.set_value(train_x[:, :, None])
    np.testing.assert_allclose(predicted, logits.forward(), rtol=1e-12)
    assert predicted.shape == (7, 2, 1)


@pytest.mark.parametrize(
    ("train_x", "train_y", "message"),
    [
        (
            {"x": np.zeros((4, 5))},
            np.zeros((4, 2)),
            r"samples of shape \(5,\) do not fit dim \(3, 1\)",
        ),
        ({"z": np.zeros((4, 3))}, np.zeros((4, 2)), r"missing \['x'\], unknown \['z'\]"),
        ({"x": np.zeros((4, 3))}, np.zeros((3, 2)), "4 input samples but 3 labels"),
        ({"x": np.zeros((4, 3))}, np.zeros((4, 3)), r"'train_y': cannot feed x of shape \(4, 3\) to input 'y'"),
        (np.zeros((4, 3)), np.zeros((4, 2)), "must be a dict"),
    ],
)
def test_bad_training_data_is_named(graph, train_x, train_y, message):
    trainer = make_trainer(graph)
    with pytest.raises(ms.core.ShapeError, match=message):
        trainer.train_and_eval(train_x, train_y)


def test_bad_trainer_arguments_are_named(graph):
    x, y, _, loss = softmax_classifier()
    optimizer = ms.optimizer.Adam(graph, loss)
    weight = ms.core.get_trainable_variables_from_graph(graph=graph)[0]
    with pytest.raises(ms.core.GraphError, match="is not a non-trainable input Variable"):
        SimpleTrainer([weight], y, loss, optimizer, 1)
    with pytest.raises(ValueError, match="epoches and batch_size must be positive"):
        SimpleTrainer([x], y, loss, optimizer, 1, batch_size=0)


def test_logging_can_be_silenced(graph, caplog):
    train_x, train_y = data(8)
    caplog.set_level(logging.INFO, logger="matrixslow.trainer")
    make_trainer(graph, batch_size=2).train_and_eval({"x": train_x}, train_y)
    assert not caplog.records
    with ms.core.Graph() as own:
        x, y, _, loss = softmax_classifier()
        trainer = SimpleTrainer([x], y, loss, ms.optimizer.Adam(own, loss), 2, 2, print_iteration_interval=2)
        trainer.train_and_eval({"x": train_x}, train_y)
    messages = [record.getMessage() for record in caplog.records]
    assert any(message.startswith("Epoch 2/2") and "loss" in message for message in messages)
    assert any("iteration 2" in message for message in messages)


def test_the_distributed_hooks_are_called(graph):
    calls = []

    class HookedTrainer(Trainer):
        def _variable_weights_init(self):
            calls.append("init")

        def _optimizer_update(self):
            calls.append("update")
            super()._optimizer_update()

    x, y, _, loss = softmax_classifier()
    train_x, train_y = data(5)
    HookedTrainer([x], y, loss, ms.optimizer.Adam(graph, loss), 1, 2, verbose=False).train_and_eval(
        {"x": train_x}, train_y
    )
    assert calls == ["init", "update", "update", "update"]
