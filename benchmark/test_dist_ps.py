"""Parameter-server push + pull of 1, 16 and 64 MiB float32 models by 2 workers, with 1 and 2 shards.

Each case is one ``python -m matrixslow.dist.launch --mode ps`` run; the workers time every
synchronous step (push of the gradient sums, pull of their mean) themselves (see
``dist_harness``). Throughput = model bytes / median step time (slowest worker), and the ratio
2-shard / 1-shard throughput is printed (target >= 1.6), with how many of the machine's cores were
busy over the timed steps. A second shard splits the work but adds none of the machine's cores:
with B of C cores busy with one shard, the same work on all C cores takes at least B / C of the
time, so the 2/1 ratio cannot exceed C / B here, printed as its bound.

    pytest benchmark/test_dist_ps.py --benchmark-only
    pytest benchmark/test_dist_ps.py --benchmark-only --quick   # smaller sizes
"""

import os

import pytest

from .dist_harness import REPO, MiB, SummaryTable, median, pick, record_times, run_launched, size_label
from .dist_harness import slowest_per_repetition as slowest

WORKER = REPO / "benchmark" / "dist_ps_worker.py"
WORKERS = 2
SHARDS = pick((1, 2), (1, 2), tiny=(1,))
# (bytes, timed steps)
CASES = pick(
    ((MiB, 20), (16 * MiB, 8), (64 * MiB, 5)), ((MiB // 16, 5), (MiB, 5), (4 * MiB, 3)), tiny=((MiB // 16, 2),)
)
WARMUP = pick(2, 1)
RUN_TIMEOUT_SECONDS = pick(400, 120)


class PushPullTable(SummaryTable):
    def lines(self):
        yield (
            f"{'model':<10}{'1 shard MB/s':>14}{'2 shards MB/s':>15}{'2/1 shards':>12}   push share of step (1 / 2)"
            f"   busy cores of {os.cpu_count()} (1 / 2)   2/1 bound"
        )
        for nbytes, row in sorted(self.rows.items()):
            one, two = row.get(1, {}), row.get(2, {})
            ratio = two["throughput"] / one["throughput"] if one and two else float("nan")
            shares = " / ".join(f"{cell['push_share']:.2f}" if cell else "-" for cell in (one, two))
            busy = " / ".join(_cores(cell.get("busy_cores")) for cell in (one, two))
            cells = "".join(f"{cell['throughput'] / 1e6:>14.1f}" if cell else f"{'-':>14}" for cell in (one, two))
            one_busy = one.get("busy_cores") if one else None
            bound = f"{os.cpu_count() / one_busy:.2f}" if one_busy else "-"
            yield f"{size_label(nbytes):<10}{cells} {ratio:>11.2f}   {shares:<26}   {busy:<23}   {bound}"


def _cores(busy):
    return "-" if busy is None else f"{busy:.2f}"


TABLE = PushPullTable(f"parameter server push + pull, {WORKERS} workers: model bytes / median step time (same run)")


@pytest.fixture(scope="module", autouse=True)
def summary(request):
    TABLE.register(request.config)


@pytest.mark.parametrize("nbytes,repeats", CASES, ids=[size_label(nbytes) for nbytes, _ in CASES])
@pytest.mark.parametrize("shards", SHARDS, ids=lambda n: f"{n}shards")
def test_push_pull_throughput(benchmark, shards, nbytes, repeats):
    args = ["--size", nbytes, "--repeats", repeats, "--warmup", WARMUP]
    results = run_launched("ps", WORKERS, WORKER, args, ps=shards, timeout=RUN_TIMEOUT_SECONDS)
    assert sorted(result["rank"] for result in results) == list(range(WORKERS)), results
    seconds = slowest([result["seconds"] for result in results])
    push_share = median(slowest([result["push_seconds"] for result in results])) / median(seconds)
    throughput = nbytes / median(seconds)
    busy = results[0]["busy_cores"]  # machine-wide, so any worker's figure will do
    benchmark.group = f"ps_push_pull[{size_label(nbytes)}]"
    benchmark.extra_info.update(
        kind="ps", shards=shards, workers=WORKERS, bytes=nbytes, throughput_MBps=throughput / 1e6,
        push_share=push_share, busy_cores=busy,
    )  # fmt: skip
    record_times(benchmark, seconds)
    TABLE.rows.setdefault(nbytes, {})[shards] = {"throughput": throughput, "push_share": push_share, "busy_cores": busy}
