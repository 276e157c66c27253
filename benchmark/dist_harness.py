"""What the distributed benchmarks share: starting worker processes, collecting their timings, reporting them.

Why the timing happens inside the workers: a collective operation only exists across processes,
and starting them (Python, gRPC, MPI) costs far more than one allreduce. So each case starts its
processes once; every worker does its warm-up and repetitions, times each repetition with
``time.perf_counter`` around the call alone, and prints the list as one JSON line. The test
then takes, for each repetition, the slowest worker's time (the collective is finished only when
it is finished everywhere) and hands those times to pytest-benchmark by ``record_times``: the
min/median/mean/stddev columns and the saved JSON are the times measured in the workers, never
the process start-up.

Quick mode (``--quick``) shrinks sizes, repetitions and epochs so that every distributed case
runs in under a minute in all; tiny mode (``--tiny``, the smoke test) keeps one case of each kind.
"""

import contextlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from benchmark.settings import QUICK, TINY, pick
from benchmark.timing import median, record_times
from matrixslow.dist.mpirun import MPIEXEC_FLAGS, kill_session, mpiexec_path

__all__ = ["QUICK", "TINY", "median", "pick", "record_times"]  # re-exported for the distributed cases

REPO = Path(__file__).resolve().parents[1]
RESULT_PREFIX = "BENCH_RESULT "
# MPI over loopback TCP, the transport the gRPC ring uses; by default Open MPI uses shared memory on one host.
MPI_TCP = ("--mca", "pml", "ob1", "--mca", "btl", "tcp,self", "--mca", "btl_tcp_if_include", "lo")
MiB = 2**20


def size_label(nbytes):
    """A payload's short name in test ids and benchmark groups: "16MiB", "64KiB"."""
    return f"{nbytes // MiB}MiB" if nbytes >= MiB else f"{nbytes // 1024}KiB"


def emit(result):
    """Worker side: print one result as a JSON line the test picks out of the output."""
    print(RESULT_PREFIX + json.dumps(result), flush=True)


def results_of(stdout):
    """Every ``emit``ted result in ``stdout`` (launcher prefixes such as ``[worker 1]`` allowed), in order."""
    results = []
    for line in stdout.splitlines():
        _, found, payload = line.partition(RESULT_PREFIX)
        if found:
            results.append(json.loads(payload))
    return results


def _environment():
    python_path = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    # One BLAS thread per process: the workers share two cores, and oversubscribed BLAS threads only add noise.
    return dict(os.environ, PYTHONPATH=python_path, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")


def run(command, timeout, interrupt_first=False):
    """Run ``command`` in a session of its own; returns stdout, raises with the output on failure.

    After ``timeout`` seconds the launcher gets SIGINT (it stops its workers on KeyboardInterrupt)
    when ``interrupt_first``, then everything left in the session is killed.
    """
    process = subprocess.Popen(
        [str(part) for part in command], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        cwd=REPO, env=_environment(), start_new_session=True,
    )  # fmt: skip
    try:
        stdout, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        if interrupt_first:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGINT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=10)
        kill_session(process.pid)
        stdout, _ = process.communicate(timeout=10)
        raise TimeoutError(f"{' '.join(map(str, command))} did not finish within {timeout} s:\n{stdout}") from None
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, command))} exited with {process.returncode}:\n{stdout}")
    return stdout


def run_launched(mode, workers, script, args=(), ps=0, timeout=300):
    """``python -m matrixslow.dist.launch`` on this machine; returns every worker's results."""
    command = [sys.executable, "-m", "matrixslow.dist.launch", "--mode", mode, "--workers", workers]
    command += ["--ps", ps] if mode == "ps" else []
    command += ["--timeout", timeout, script, *args]
    return results_of(run(command, timeout + 30, interrupt_first=True))


def run_mpiexec(processes, script, args=(), transport=MPI_TCP, timeout=300):
    """``mpiexec -n processes python script args``; returns every rank's results."""
    command = [mpiexec_path(), *MPIEXEC_FLAGS, *transport, "-n", processes, sys.executable, script, *args]
    return results_of(run(command, timeout))


def slowest_per_repetition(per_worker_times):
    """For each repetition, the longest time any worker took."""
    return [max(times) for times in zip(*per_worker_times, strict=True)]


class SummaryTable:
    """Lines filled in by the cases of one module, printed in pytest's terminal summary.

    ``register(config)`` makes the table a pytest plugin, so its ``pytest_terminal_summary``
    runs at the end of the session next to pytest-benchmark's own tables (a test module cannot
    define that hook itself, and output written during a test would be captured).
    """

    def __init__(self, title):
        self.title = title
        self.rows = {}

    def register(self, config):
        if not config.pluginmanager.is_registered(self):
            config.pluginmanager.register(self, f"matrixslow-summary-{id(self)}")

    def pytest_terminal_summary(self, terminalreporter):
        if not self.rows:
            return
        terminalreporter.write_sep("-", self.title)
        for line in self.lines():
            terminalreporter.write_line(line)

    def lines(self):
        raise NotImplementedError
