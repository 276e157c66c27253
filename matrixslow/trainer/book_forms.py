"""What the book's Trainer programs rely on beyond the arguments: the ``batch=`` keyword and the printed lines.

The original printed its progress with ``print()``; the book's readers watch for
these lines, so they go to stdout (with the original's wording) whenever the
trainer is verbose, not only to the ``matrixslow.trainer`` logger.
"""

import sys
import time
import warnings

DEFAULT_BATCH_SIZE = 8  # the original's


def resolve_batch_size(batch_size, batch):
    """The batch size from ``batch_size=`` or the book's ``batch=`` (chapter 9), warning about the latter.

    The original took ``batch=`` into its ``**kargs`` and ignored it, training with
    batch_size 8; we give it the meaning its reader meant, and say so.
    """
    if batch is None:
        return DEFAULT_BATCH_SIZE if batch_size is None else batch_size
    if batch_size is not None:
        raise TypeError(f"Trainer: got both batch_size={batch_size} and batch={batch}; pass batch_size only")
    warnings.warn(
        f"Trainer: batch={batch} is read as batch_size={batch}. The original MatrixSlow ignored batch= "
        f"and trained with batch_size={DEFAULT_BATCH_SIZE}; pass batch_size={batch} to silence this warning.",
        UserWarning,
        stacklevel=3,  # the caller of Trainer(...)
    )
    return batch


class BookLines:
    """The original trainer's progress lines, printed while ``trainer.verbose`` is on."""

    INIT = "[INIT] Variable weights init finished"

    def __init__(self, trainer):
        self.trainer = trainer
        self.epoch_start = self.last_iteration = time.time()

    def init_finished(self):
        self._say(self.INIT)

    def train_start(self, samples):
        self.epoch_start = self.last_iteration = time.time()
        trainer = self.trainer
        # The original printed len() of the input dict here (its number of inputs); this is the sample count.
        self._say(
            f"- Epoch [{trainer.epoch + 1}] train start, batch size: {trainer.batch_size}, train data size: {samples}"
        )

    def iteration(self, index, loss):
        """After iteration ``index`` (0-based, as the original's), with that iteration's mean loss per sample."""
        now = time.time()
        self._say(
            f"-- iteration [{index}] finished, time cost: {now - self.last_iteration:.2f}  and loss value: {loss:4f}"
        )
        self.last_iteration = now

    def train_finished(self):
        self._say(f"- Epoch [{self.trainer.epoch + 1}] train finished, time cost: {time.time() - self.epoch_start:.2f}")

    def evaluation(self, metrics):
        # The original's value_str() ended in a space and the line was their concatenation.
        self._say(
            f"Epoch [{self.trainer.epoch + 1}] evaluation metrics " + "".join(f"{m.value_str()} " for m in metrics)
        )

    def _say(self, line):
        if not self.trainer.verbose:
            return
        try:
            from tqdm.auto import tqdm
        except ImportError:
            print(line)
            return
        tqdm.write(line, file=sys.stdout)  # above the progress bar, which would otherwise swallow the line
