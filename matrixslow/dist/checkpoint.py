"""Checkpoints of a distributed job: worker 0 saves the model every K steps, a restarted job resumes.

Each checkpoint is a Saver directory ``DIR/step-<n>`` (model.json and weights.npz, both
written atomically, the weights' sha256 recorded in model.json), so a process killed in
the middle of a save leaves the previous checkpoints as they were. Only the newest few are
kept. Restoring sets the weights and the step; the optimizer's own state (momentum, Adam's
moments) is not part of the graph the Saver writes and starts again from zero.
"""

import re
import shutil
from pathlib import Path

from ..trainer.errors import ModelFileError
from ..trainer.saver import Saver

STEP_DIR = re.compile(r"^step-(\d+)$")
KEEP_NEWEST = 3


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

    def due(self, step):
        """True when ``step`` (updates made so far) is a multiple of ``every``."""
        return step > 0 and step % self.every == 0

    def save(self, graph, step):
        """Save ``graph`` as the checkpoint of ``step`` and drop all but the newest ``keep``."""
        Saver(self.directory / f"step-{step:09d}").save(graph, meta={"step": int(step)})
        for old in self._steps()[: -self.keep]:
            shutil.rmtree(self.directory / f"step-{old:09d}", ignore_errors=True)

    def restore(self, graph):
        """Load the newest complete checkpoint's weights into ``graph``; returns its step, 0 when there is none.

        A checkpoint that does not load (a save cut short before its files were committed)
        is skipped for the one before it.
        """
        for step in reversed(self._steps()):
            try:
                meta, _ = Saver(self.directory / f"step-{step:09d}").load(to_graph=graph)
            except ModelFileError:
                continue
            return int(meta["step"])
        return 0

    def _steps(self):
        if not self.directory.is_dir():
            return []
        found = (STEP_DIR.match(path.name) for path in self.directory.iterdir())
        return sorted(int(match.group(1)) for match in found if match)
