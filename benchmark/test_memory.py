"""Peak resident memory of training the digits CNN, per batch size (one worker process each).

Each case runs ``memory_worker.py`` in a fresh process (see its docstring for the method). The
benchmark's times are the worker's training steps (feed, forward, backward, Adam update); the
memory is in ``extra_info``: peak RSS during training, the part training adds over the loaded model
and data, and the traced peak of live NumPy/Python allocations during one step.
"""

import sys

import pytest

from .dist_harness import REPO, results_of, run
from .settings import pick
from .timing import record_times

WORKER = REPO / "benchmark" / "memory_worker.py"
BATCHES = pick((1, 8, 32, 128, 512, 2048), (1, 32, 256, 1024), tiny=(1, 8))
STEPS = pick(8, 4, tiny=1)
MiB = 2**20


@pytest.mark.parametrize("batch", BATCHES)
def test_cnn_training_memory(benchmark, batch):
    (result,) = results_of(run([sys.executable, WORKER, "--batch", batch, "--steps", STEPS], timeout=300))
    assert result["batch"] == batch, result
    benchmark.group = "memory[cnn]"
    benchmark.extra_info.update(
        kind="memory", model="cnn", engine="matrixslow", batch=batch, method=result["method"],
        peak_rss_MiB=result["peak_rss_bytes"] / MiB,
        training_rss_MiB=(result["peak_rss_bytes"] - result["baseline_rss_bytes"]) / MiB,
        traced_peak_MiB=result["traced_peak_bytes"] / MiB,
    )  # fmt: skip
    record_times(benchmark, result["seconds"])
