"""Allreduce of 1, 16 and 64 MiB float32 buffers across 2 and 3 local processes: the gRPC ring beside MPI.

Backends: "grpc" is ``RingAllReduce`` started by ``python -m matrixslow.dist.launch``;
"grpc-ceiling" moves the same bytes round the same ring of processes over gRPC with nothing added
and nothing awaited (``grpc_ring_ceiling``), the most any Python gRPC ring could reach here; "mpi"
is ``MpiAllReduce`` (``comm.Allreduce``) under ``mpiexec`` forced onto loopback TCP, the transport
the ring uses; "mpi-shm" is MPI as it runs by default on one host (shared memory), for scale.
Each (backend, processes) pair starts its processes once and times every size inside them (see
``dist_harness``). Reported: bus bandwidth = 2 (N - 1) / N x bytes / median time, and the ratio
ring / MPI-TCP of the bus bandwidths (target >= 1 at 16 and 64 MiB), also from the best
repetitions (on a shared, noisy machine the fastest repetition is the least disturbed one), and
the ring's bytes sent per worker against 2 (N - 1) / N of the buffer (target within 1%), and MPI-TCP
against the gRPC ceiling (above 1, no gRPC ring can meet the target on this machine).

    pytest benchmark/test_dist_allreduce.py --benchmark-only
    pytest benchmark/test_dist_allreduce.py --benchmark-only --quick   # smaller sizes (or MATRIXSLOW_BENCH_QUICK=1)
"""

import pytest

from .dist_harness import (
    MPI_TCP,
    REPO,
    MiB,
    SummaryTable,
    median,
    pick,
    record_times,
    run_launched,
    run_mpiexec,
    size_label,
)
from .dist_harness import slowest_per_repetition as slowest
from .stats import bus_bandwidth

WORKER = REPO / "benchmark" / "dist_allreduce_worker.py"
WORLD_SIZES = pick((2, 3), (2, 3), tiny=(2,))
ALL_BACKENDS = ("grpc", "grpc-ceiling", "mpi", "mpi-shm")
BACKENDS = pick(ALL_BACKENDS, ALL_BACKENDS, tiny=("grpc", "grpc-ceiling", "mpi"))
# (bytes, timed repetitions)
CASES = pick(
    ((MiB, 30), (16 * MiB, 10), (64 * MiB, 6)), ((MiB // 16, 5), (MiB, 5), (4 * MiB, 3)), tiny=((MiB // 16, 2),)
)
WARMUP = pick(2, 1)
RUN_TIMEOUT_SECONDS = pick(400, 120)

_runs = {}  # (backend, world_size) -> {bytes: [seconds per repetition, slowest worker]}, {bytes: bytes_sent}


def measured(backend, world_size):
    """Run every size once per (backend, world size) and keep the timings for all its cases."""
    if (backend, world_size) not in _runs:
        args = ["--backend", "mpi" if backend.startswith("mpi") else backend, "--warmup", WARMUP]
        args += ["--sizes", *[nbytes for nbytes, _ in CASES], "--repeats", *[repeats for _, repeats in CASES]]
        if backend.startswith("grpc"):
            results = run_launched("allreduce", world_size, WORKER, args, timeout=RUN_TIMEOUT_SECONDS)
        else:
            transport = MPI_TCP if backend == "mpi" else ()
            results = run_mpiexec(world_size, WORKER, args, transport=transport, timeout=RUN_TIMEOUT_SECONDS)
        assert sorted(result["rank"] for result in results) == list(range(world_size)), results
        times = {
            nbytes: slowest([result["sizes"][str(nbytes)]["seconds"] for result in results]) for nbytes, _ in CASES
        }
        sent = {nbytes: max(result["sizes"][str(nbytes)]["bytes_sent"] for result in results) for nbytes, _ in CASES}
        _runs[(backend, world_size)] = times, sent
    return _runs[(backend, world_size)]


class AllreduceTable(SummaryTable):
    def lines(self):
        yield (
            f"{'case':<16}{'grpc ring GB/s':>16}{'grpc ceiling':>14}{'mpi tcp GB/s':>14}{'mpi shm GB/s':>14}"
            f"{'ring/mpi-tcp':>14}{'(best times)':>14}{'ring/ceiling':>14}{'mpi-tcp/ceiling':>17}"
            f"{'ring sent/ideal':>17}"
        )
        for (world_size, nbytes), row in sorted(self.rows.items()):
            cells = "".join(f"{row[backend] / 1e9:>14.3f}" if backend in row else f"{'-':>14}" for backend in BACKENDS)
            best_ratio = _ratio(row["best"], "mpi", "grpc")  # times, so mpi / grpc: ring / mpi of the best bandwidths
            ideal = 2 * (world_size - 1) / world_size * nbytes
            sent = row.get("grpc_sent", float("nan")) / ideal
            ratios = f"{_ratio(row, 'grpc', 'mpi'):>14.2f}{best_ratio:>14.2f}"
            ratios += f"{_ratio(row, 'grpc', 'grpc-ceiling'):>14.2f}{_ratio(row, 'mpi', 'grpc-ceiling'):>17.2f}"
            yield f"{f'{world_size} x {size_label(nbytes)}':<16}  {cells}{ratios}{sent:>17.4f}"


def _ratio(row, over, under):
    return row[over] / row[under] if {over, under} <= row.keys() else float("nan")


TABLE = AllreduceTable("allreduce bus bandwidth = 2(N-1)/N x bytes / median time (same run)")


@pytest.fixture(scope="module", autouse=True)
def summary(request):
    TABLE.register(request.config)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("nbytes", [nbytes for nbytes, _ in CASES], ids=size_label)
@pytest.mark.parametrize("world_size", WORLD_SIZES, ids=lambda n: f"{n}procs")
def test_allreduce_bus_bandwidth(benchmark, world_size, nbytes, backend):
    times, sent = measured(backend, world_size)
    seconds = times[nbytes]
    bandwidth = bus_bandwidth(nbytes, world_size, median(seconds))
    benchmark.group = f"allreduce[{world_size} procs, {size_label(nbytes)}]"
    benchmark.extra_info.update(
        kind="allreduce",
        backend=backend,
        world_size=world_size,
        bytes=nbytes,
        bus_bandwidth_GBps=bandwidth / 1e9,
        bytes_sent=sent[nbytes],
        best_bus_bandwidth_GBps=bus_bandwidth(nbytes, world_size, min(seconds)) / 1e9,
    )
    record_times(benchmark, seconds)
    row = TABLE.rows.setdefault((world_size, nbytes), {})
    row[backend] = bandwidth
    row.setdefault("best", {})[backend] = min(seconds)
    if backend == "grpc":
        row["grpc_sent"] = sent[nbytes]
