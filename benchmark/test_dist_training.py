"""Training throughput (samples/s) of the digits MLP and CNN: one process, PS with 2 workers, ring with 2 and 3.

The allreduce trainer also runs with ``backend="mpi"`` (2 processes, MPI over loopback TCP like the ring).

Every worker trains on an equal shard with 32 samples per worker and step, so a distributed step
processes N times the samples of a single-process one. Each case is one launch; the workers time
every epoch and every communication call inside it (see ``dist_training_worker``). Reported:
samples/s = samples of all workers per epoch / median epoch time (slowest worker), the speed-up
over one process, and each step split into compute (forward, backward, update) and communication
(allreduce, or push + pull, including the wait for slower workers).

    pytest benchmark/test_dist_training.py --benchmark-only
    pytest benchmark/test_dist_training.py --benchmark-only --quick   # fewer epochs
"""

import sys

import pytest

from .dist_harness import REPO, SummaryTable, median, pick, record_times, results_of, run, run_launched, run_mpiexec
from .dist_harness import slowest_per_repetition as slowest

WORKER = REPO / "benchmark" / "dist_training_worker.py"
MODELS = pick(("mlp", "cnn"), ("mlp", "cnn"), tiny=("mlp",))
# (label, trainer mode, workers, parameter-server shards)
ALL_SETUPS = (
    ("single", "single", 1, 0),
    ("ps-2", "ps", 2, 1),
    ("ps2-2", "ps", 2, 2),
    ("ring-2", "allreduce", 2, 0),
    ("ring-3", "allreduce", 3, 0),
    ("mpi-2", "mpi", 2, 0),
)
SETUPS = pick(ALL_SETUPS, ALL_SETUPS, tiny=(ALL_SETUPS[0], ALL_SETUPS[1], ALL_SETUPS[3]))
EPOCHS = pick(8, 2, tiny=1)
RUN_TIMEOUT_SECONDS = pick(300, 120)


def train(model, mode, workers, shards):
    args = ["--model", model, "--mode", mode, "--epochs", EPOCHS]
    if mode == "single":
        return results_of(run([sys.executable, WORKER, *args], RUN_TIMEOUT_SECONDS))
    if mode == "mpi":
        return run_mpiexec(workers, WORKER, args, timeout=RUN_TIMEOUT_SECONDS)
    launch_mode = "ps" if mode == "ps" else "allreduce"
    return run_launched(launch_mode, workers, WORKER, args, ps=shards, timeout=RUN_TIMEOUT_SECONDS)


class ThroughputTable(SummaryTable):
    def lines(self):
        yield (
            f"{'model':<6}{'setup':<9}{'samples/s':>11}{'vs single':>11}"
            f"{'compute ms/step':>17}{'comm ms/step':>14}{'comm share':>12}"
        )
        for (model, _), row in sorted(self.rows.items()):
            single = self.rows.get((model, 0))
            speedup = row["rate"] / single["rate"] if single else float("nan")
            share = row["comm"] / (row["compute"] + row["comm"])
            yield (
                f"{model:<6}{row['label']:<9}{row['rate']:>11.0f}{speedup:>11.2f}"
                f"{row['compute'] * 1e3:>17.2f}{row['comm'] * 1e3:>14.2f}{share:>12.2f}"
            )


TABLE = ThroughputTable(f"training throughput on digits, {EPOCHS} epochs, batch 32 per worker (same run)")


@pytest.fixture(scope="module", autouse=True)
def summary(request):
    TABLE.register(request.config)


@pytest.mark.parametrize("setup", SETUPS, ids=[label for label, *_ in SETUPS])
@pytest.mark.parametrize("model", MODELS)
def test_training_throughput(benchmark, model, setup):
    label, mode, workers, shards = setup
    results = train(model, mode, workers, shards)
    assert sorted(result["rank"] for result in results) == list(range(workers)), results
    epochs = slowest([result["epoch_seconds"] for result in results])
    samples = sum(result["samples"] for result in results)
    rate = samples / median(epochs)
    steps = results[0]["steps"]
    # Mean over workers of the median epoch's split, per step.
    comm = sum(median(result["comm_seconds"]) for result in results) / workers / steps
    epoch = sum(median(result["epoch_seconds"]) for result in results) / workers / steps
    benchmark.group = f"train_epoch[{model}]"
    benchmark.extra_info.update(
        kind="dist_training", model=model, mode=mode, epochs=EPOCHS, batch_per_worker=32, setup=label,
        workers=workers, ps_shards=shards, samples_per_second=rate, compute_ms_per_step=(epoch - comm) * 1e3,
        comm_ms_per_step=comm * 1e3,
    )  # fmt: skip
    record_times(benchmark, epochs)
    order = [name for name, *_ in SETUPS].index(label)
    TABLE.rows[(model, order)] = {"label": label, "rate": rate, "compute": epoch - comm, "comm": comm}
