"""Trainers: feed mini-batches through a graph, update it, evaluate it and keep a history."""

import logging

import numpy as np

from ..core.batching import as_batch
from ..core.errors import GraphError, ShapeError
from .book_forms import BookLines, resolve_batch_size
from .feeding import PreparedInputs, batches, sample_count

logger = logging.getLogger("matrixslow.trainer")


class Trainer:
    """The book's training loop, batched: one forward/backward per mini-batch.

    Parameters
    ----------
    input_x : list of Variable
        The input nodes; ``train_x`` dicts are keyed by their names.
    input_y : Variable
        The label node.
    loss_op : Node
        The per-sample loss.
    optimizer : Optimizer
    epoches : int
        Passes over the training set (the book's spelling).
    batch_size : int, default 8
        Samples per update. The last batch of an epoch may be smaller; it gets
        its own update with the mean over its samples.
    batch : int, optional
        The book's chapter-9 spelling of ``batch_size`` (the original ignored it):
        used as ``batch_size``, with a warning.
    eval_on_train : bool, default False
        Evaluate ``metrics_ops`` on the test set after every epoch.
    metrics_ops : list of metric nodes, optional
    print_iteration_interval : int, default 100
        Report the loss every this many iterations (0: never). An iteration is one
        forward/backward pass: a mini-batch here, a single sample in the original.
    shuffle : bool, default True
        Shuffle the training samples every epoch.
    seed : int, optional
        Seeds the shuffling. Without it the shuffling seed is drawn from NumPy's
        global generator, so that ``np.random.seed`` repeats a whole run, as in the book.
    verbose : bool, default True
        The book's progress lines on stdout, log lines (logger "matrixslow.trainer")
        and a progress bar (tqdm, when installed); False silences all three.
    eval_batch_size : int, default 256
        Samples per forward pass when evaluating (no gradients, so larger batches
        only cost memory).

    After ``train_and_eval`` the list ``history`` holds one dict per epoch: the
    mean training "loss", and, when evaluated, "val_loss" and each metric.
    Subclasses (the distributed trainers) override ``_variable_weights_init``
    and ``_optimizer_update``.
    """

    def __init__(
        self,
        input_x,
        input_y,
        loss_op,
        optimizer,
        epoches,
        batch_size=None,
        eval_on_train=False,
        metrics_ops=None,
        print_iteration_interval=100,
        *,
        batch=None,
        shuffle=True,
        seed=None,
        verbose=True,
        eval_batch_size=256,
    ):
        if not isinstance(input_x, (list, tuple)) or not input_x:
            raise GraphError("Trainer: input_x must be a non-empty list of input Variables")
        for node in [*input_x, input_y]:
            if not hasattr(node, "set_value") or getattr(node, "trainable", False):
                raise GraphError(f"Trainer: {node.describe()} is not a non-trainable input Variable")
        batch_size = resolve_batch_size(batch_size, batch)
        if int(epoches) < 1 or int(batch_size) < 1:
            raise ValueError(f"Trainer: epoches and batch_size must be positive, got {epoches} and {batch_size}")
        self.inputs = list(input_x)
        self.input_y = input_y
        self.loss_op = loss_op
        self.optimizer = optimizer
        self.epoches = int(epoches)
        self.batch_size = int(batch_size)
        self.eval_on_train = eval_on_train
        self.metrics_ops = list(metrics_ops or [])
        self.print_iteration_interval = print_iteration_interval
        self.shuffle = shuffle
        self.rng = np.random.default_rng(np.random.randint(2**31) if seed is None else seed)
        self.verbose = verbose
        self.eval_batch_size = int(eval_batch_size)
        self.history = []
        self.book_lines = BookLines(self)
        self.epoch = 0
        self.global_step = 0  # optimizer updates so far, over all epochs
        self.resume_step = 0  # updates already made before a restart: train() skips that many batches

    # -- the book's entry points -------------------------------------------
    def train_and_eval(self, train_x, train_y, test_x=None, test_y=None):
        """Train for ``epoches`` epochs, evaluating after each when asked; returns ``history``.

        ``train_x`` maps each input node's name to an array of samples (N first),
        as rows of rows*cols numbers or as (rows, cols) matrices; ``train_y`` is
        the array of labels.
        """
        train = self._prepare(train_x, train_y, "train")
        test = self._prepare(test_x, test_y, "test") if test_x is not None and test_y is not None else None
        self._variable_weights_init()
        self.book_lines.init_finished()
        self.main_loop(train, test)
        return self.history

    def train(self, train_x, train_y):
        """ONE epoch over ``train_x`` (a dict as in ``train_and_eval``), as in the book; returns its mean loss.

        Like the original's, it neither initialises the weights (``train_and_eval``
        does) nor looks at ``epoches``, and it reports as epoch ``self.epoch + 1``.
        ``main_loop`` calls it with ``PreparedInputs`` instead of a dict.
        """
        return self._train_epoch(*self._prepared(train_x, train_y, "train"))

    def eval(self, test_x, test_y):
        """The loss and every metric over ``test_x`` (a dict as in ``train_and_eval``, or ``PreparedInputs``)."""
        return self._evaluate(*self._prepared(test_x, test_y, "test"))

    def main_loop(self, train, test):
        """Run the epochs over prepared ``(inputs, labels)`` pairs (see ``_prepare``)."""
        for epoch in range(self.epoches):
            self.epoch = epoch
            record = {"epoch": self.epoch + 1, "loss": self.train(*train)}
            if self.eval_on_train and test is not None:
                record.update(self.eval(*test))
            self.history.append(record)
            if self.verbose:
                logger.info("Epoch %d/%d  %s", self.epoch + 1, self.epoches, _format(record))

    def _train_epoch(self, inputs, labels):
        """One epoch over prepared arrays; returns the mean per-sample training loss."""
        self.book_lines.train_start(len(labels))
        total_loss, seen = 0.0, 0
        epoch_batches = batches(len(labels), self.batch_size, self.rng if self.shuffle else None)
        for iteration, index in enumerate(self._progress(epoch_batches), start=1):
            if self.global_step < self.resume_step:
                # Trained before the restart; the shuffle above was still drawn, so the batches that follow
                # are the very ones the interrupted run would have seen.
                self.global_step += 1
                continue
            self.one_step(inputs, labels, index)
            batch_loss = float(np.sum(self.loss_op.value))
            total_loss += batch_loss
            seen += index.size
            self._optimizer_update()
            self.global_step += 1
            self._after_update()
            if self.verbose and self.print_iteration_interval and iteration % self.print_iteration_interval == 0:
                self.book_lines.iteration(iteration - 1, batch_loss / index.size)
                logger.info("Epoch %d, iteration %d: mean loss %.4f", self.epoch + 1, iteration, total_loss / seen)
        self.book_lines.train_finished()
        return total_loss / seen if seen else float("nan")  # nan: the whole epoch was trained before a restart

    def _evaluate(self, inputs, labels):
        """Evaluate the loss and every metric over prepared arrays, in batches."""
        for metric in self.metrics_ops:
            metric.reset()
        total_loss = 0.0
        for batch_loss in self.evaluation_batches(inputs, labels):
            total_loss += batch_loss
            for metric in self.metrics_ops:
                metric.forward()
        self.book_lines.evaluation(self.metrics_ops)
        results = {"val_loss": total_loss / len(labels)}
        keys = _metric_keys(self.metrics_ops)
        for key, metric in zip(keys, self.metrics_ops, strict=True):
            results[key] = float(metric.value) if np.ndim(metric.value) == 0 else metric.value
        return results

    def evaluation_batches(self, inputs, labels):
        """Set each evaluation batch of prepared arrays in turn (no update); yields its summed per-sample loss."""
        for index in batches(len(labels), self.eval_batch_size):
            self.one_step(inputs, labels, index, is_eval=True)
            yield float(np.sum(self.loss_op.forward()))

    def one_step(self, inputs, labels, index, is_eval=False):
        """Set the inputs and labels to the samples at ``index``; train on them unless evaluating."""
        for node, samples in zip(self.inputs, inputs, strict=True):
            node.set_value(samples[index])
        self.input_y.set_value(labels[index])
        if not is_eval:
            self.optimizer.one_step()

    def predict(self, x, output, batch_size=256):
        """The values of ``output`` for every sample of ``x`` (a dict as in ``train_and_eval``), N first."""
        inputs = self._prepare_inputs(x, "predict")
        values = []
        for index in batches(len(inputs[0]), batch_size):
            for node, samples in zip(self.inputs, inputs, strict=True):
                node.set_value(samples[index])
            values.append(np.array(output.forward()))
        return np.concatenate(values)

    # -- hooks for the distributed trainers -------------------------------
    def _variable_weights_init(self):
        """Bring every worker's weights to the same start (nothing to do on one process)."""

    def _optimizer_update(self):
        self.optimizer.update()

    def _after_update(self):
        """Called after every optimizer update, ``global_step`` already counted (checkpoints hook in here)."""

    # -- helpers ------------------------------------------------------------
    def _prepared(self, x, y, what):
        return (x, y) if isinstance(x, PreparedInputs) else self._prepare(x, y, what)

    def _prepare(self, x, y, what):
        inputs = self._prepare_inputs(x, what)
        labels = as_batch(self.input_y, y, f"'{what}_y'")
        if len(labels) != len(inputs[0]):
            raise ShapeError(f"{what}: {len(inputs[0])} input samples but {len(labels)} labels")
        return inputs, labels

    def _prepare_inputs(self, x, what):
        named = self._by_node(x)
        inputs = PreparedInputs(
            as_batch(node, samples, repr(name)) for node, (name, samples) in zip(self.inputs, named, strict=True)
        )
        sample_count({name: array for (name, _), array in zip(named, inputs, strict=True)}, what)
        return inputs

    def _by_node(self, x):
        if not isinstance(x, dict):
            raise ShapeError(f"Trainer: inputs must be a dict of input node name -> samples, got {type(x).__name__}")
        names = [node.name for node in self.inputs]
        unknown = sorted(set(x) - set(names))
        missing = [name for name in names if name not in x]
        if unknown or missing:
            raise ShapeError(
                f"Trainer: inputs are keyed by input node names {names}; missing {missing}, unknown {unknown}"
            )
        return [(name, x[name]) for name in names]

    def _progress(self, epoch_batches):
        if not self.verbose:
            return epoch_batches
        try:
            from tqdm.auto import tqdm
        except ImportError:
            return epoch_batches
        # disable=None: no bar when stderr is not a terminal (CI logs, pipes).
        return tqdm(epoch_batches, desc=f"epoch {self.epoch + 1}/{self.epoches}", leave=False, disable=None)


class SimpleTrainer(Trainer):
    """Single-process training: weights start as built, updates go straight to the optimizer."""


def _metric_keys(metrics):
    """History keys: each metric's class name, or its node name where two share a class."""
    classes = [type(metric).__name__ for metric in metrics]
    return [cls if classes.count(cls) == 1 else metric.name for cls, metric in zip(classes, metrics, strict=True)]


def _format(record):
    return "  ".join(
        f"{key} {value:.4f}" for key, value in record.items() if key != "epoch" and isinstance(value, (int, float))
    )
