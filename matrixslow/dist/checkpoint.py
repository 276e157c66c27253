"""Checkpoints of a distributed job: worker 0 saves the model every K steps and at the last, a restarted job resumes.

Each checkpoint is a Saver directory ``DIR/step-<n>`` (model.json and weights.npz, both
written atomically, the weights' sha256 recorded in model.json), so a process killed in
the middle of a save leaves the previous checkpoints as they were. Only the newest few are
kept. The optimizer's state (momentum, Adam's moments and step count) goes beside them in
``optimizer.npz``, written before model.json and named with its sha256 in model.json's meta,
so restoring gives back the weights, the step and the optimizer, and training carries on
exactly as if it had never stopped. The job's last step is always saved, so a job started again
after it finished finds nothing left to train.
"""

import hashlib
import re
import shutil
from pathlib import Path

from ..trainer.atomic_files import commit_files
from ..trainer.errors import ModelFileError
from ..trainer.model_reader import parse_npz
from ..trainer.model_writer import npz_bytes
from ..trainer.saver import Saver

STEP_DIR = re.compile(r"^step-(\d+)$")
KEEP_NEWEST = 3
OPTIMIZER_FILE = "optimizer.npz"


class Checkpoints:
    """The checkpoints of one job in ``directory``.

    Parameters
    ----------
    directory : str or Path
        Where the checkpoints go; created on the first save.
    every : int
        Save after every ``every`` optimizer steps.
    keep : int
        How many of the newest checkpoints to keep.
    """

    def __init__(self, directory, every, keep=KEEP_NEWEST):
        if int(every) < 1:
            raise ValueError(f"checkpoint every must be a positive number of steps, got {every}")
        self.directory = Path(directory)
        self.every = int(every)
        self.keep = int(keep)

    def due(self, step, last_step=None):
        """True when ``step`` (updates made so far) is a multiple of ``every``, or is the job's ``last_step``."""
        return step > 0 and (step % self.every == 0 or step == last_step)

    def save(self, graph, step, optimizer=None):
        """Save ``graph`` (and ``optimizer``'s state) as the checkpoint of ``step``; keep the newest ``keep``."""
        directory = self._step_directory(step)
        meta = {"step": int(step)}
        if optimizer is not None:
            state_bytes = npz_bytes(optimizer.state_arrays())
            directory.mkdir(parents=True, exist_ok=True)
            # Before the Saver's model.json, which commits the checkpoint and records this file's hash.
            commit_files([(directory / OPTIMIZER_FILE, state_bytes)])
            meta["optimizer"] = {"kind": type(optimizer).__name__, "sha256": hashlib.sha256(state_bytes).hexdigest()}
        Saver(directory).save(graph, meta=meta)
        for old in self._steps()[: -self.keep]:
            shutil.rmtree(self._step_directory(old), ignore_errors=True)

    def restore(self, graph, optimizer=None):
        """Load the newest complete checkpoint into ``graph`` (and ``optimizer``); returns its step, 0 when none.

        A checkpoint that does not load (a save cut short before its files were committed)
        is skipped for the one before it. One that loads but was saved for another kind of
        optimizer raises ``ModelFileError``: resuming Adam from Momentum's state would not be
        the run that was checkpointed.
        """
        for step in reversed(self._steps()):
            directory = self._step_directory(step)
            try:
                meta, _ = Saver(directory).load(to_graph=graph)
                state = None if optimizer is None else _optimizer_state(directory, meta, optimizer)
            except OptimizerMismatchError:
                raise
            except ModelFileError:
                continue
            if state is not None:
                optimizer.load_state_arrays(state)
            return int(meta["step"])
        return 0

    def _step_directory(self, step):
        return self.directory / f"step-{step:09d}"

    def _steps(self):
        if not self.directory.is_dir():
            return []
        found = (STEP_DIR.match(path.name) for path in self.directory.iterdir())
        return sorted(int(match.group(1)) for match in found if match)


class OptimizerMismatchError(ModelFileError):
    """The checkpoint holds another kind of optimizer's state than the one resuming from it."""


def _optimizer_state(directory, meta, optimizer):
    """The optimizer state saved with a checkpoint, checked against its record in model.json."""
    record = meta.get("optimizer")
    path = directory / OPTIMIZER_FILE
    kind = type(optimizer).__name__
    if record is None:
        raise OptimizerMismatchError(
            f"{directory}: the checkpoint holds no optimizer state, and {kind} needs its own to resume exactly; "
            "resume with the optimizer it was saved with, or start from a fresh checkpoint directory"
        )
    if record["kind"] != kind:
        raise OptimizerMismatchError(
            f"{directory}: the checkpoint holds {record['kind']} state, not {kind}'s; resume with {record['kind']} "
            "or start from a fresh checkpoint directory"
        )
    try:
        data = path.read_bytes()
    except OSError as error:
        raise ModelFileError(f"{path}: cannot read the optimizer state ({error})") from error
    if hashlib.sha256(data).hexdigest() != record["sha256"]:
        raise ModelFileError(f"{path} does not belong to this checkpoint's model.json (its sha256 differs)")
    return parse_npz(data, path)
