"""One process of the memory benchmark: train the digits CNN at one batch size, report its peak memory.

    python benchmark/memory_worker.py --batch 256 --steps 5

Method. A fresh process per batch size, and the peak read from the kernel's high-water mark of
resident memory for this process's own address space: ``VmHWM`` in /proc/self/status. After the
imports, the model and the data are in place, the worker notes its resident memory (``VmRSS``, the
baseline) and resets the high-water mark (writing 5 to /proc/self/clear_refs), so the peak is the
training steps' own. ``getrusage().ru_maxrss`` would not do: Linux carries the parent's peak into
a child across fork and exec, so every worker would report at least the pytest process's size.
Where /proc is missing (not Linux) the worker falls back to ``ru_maxrss`` and says so.

RSS also counts freed memory the allocator keeps, so a second figure comes from ``tracemalloc``
(which NumPy reports its arrays to): the peak of live Python and NumPy allocations during one more
step, traced separately so that tracing does not slow the timed steps. Prints one ``BENCH_RESULT``
line: ``{"batch", "method", "baseline_rss_bytes", "peak_rss_bytes", "traced_peak_bytes", "seconds"}``.
"""

import argparse
import resource
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

from benchmark import engine_models
from benchmark.dist_harness import emit

STATUS, CLEAR_REFS = Path("/proc/self/status"), Path("/proc/self/clear_refs")


def status_bytes(field):
    """A "VmRSS:    1234 kB" line of /proc/self/status, in bytes."""
    for line in STATUS.read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise KeyError(field)


def start_peak():
    """Resident bytes now, and how the peak will be read: "VmHWM" (reset here) or "ru_maxrss"."""
    try:
        baseline = status_bytes("VmRSS")
        CLEAR_REFS.write_text("5")  # reset VmHWM to the current RSS
        return baseline, "VmHWM"
    except (OSError, KeyError):
        return max_rss_bytes(), "ru_maxrss"


def peak_bytes(method):
    return status_bytes("VmHWM") if method == "VmHWM" else max_rss_bytes()


def max_rss_bytes():
    scale = 1 if sys.platform == "darwin" else 1024  # macOS reports bytes, Linux KiB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


def train_step(model, optimizer, images, labels):
    engine_models.feed_matrixslow("cnn", model, images, labels)
    optimizer.one_step()
    optimizer.update()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, required=True)
    parser.add_argument("--steps", type=int, default=5)
    args = parser.parse_args(argv)

    _, model, optimizer = engine_models.build_matrixslow("cnn")
    images, labels = engine_models.synthetic_batch(args.batch, np.random.default_rng(0))
    baseline, method = start_peak()
    seconds = []
    for _ in range(args.steps):
        start = time.perf_counter()
        train_step(model, optimizer, images, labels)
        seconds.append(time.perf_counter() - start)
    peak = peak_bytes(method)

    tracemalloc.start()
    train_step(model, optimizer, images, labels)
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    emit(
        {
            "batch": args.batch, "method": method, "baseline_rss_bytes": baseline, "peak_rss_bytes": peak,
            "traced_peak_bytes": traced_peak, "seconds": seconds,
        }
    )  # fmt: skip


if __name__ == "__main__":
    main()
