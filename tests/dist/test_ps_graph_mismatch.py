"""A parameter-server job whose workers' graphs disagree: every worker is told why, at once.

The worker refused for its variables gets INVALID_ARGUMENT; the run is then over, so every other
worker's waiting or next call is refused with the same words instead of timing out. First on one
``ParameterState``, then across two in-process shards, then with real processes: a shard
started by the launcher and two examples/distributed/dist_mlp.py workers, hidden 8 against 16.
"""

import os
import re
import subprocess
import sys
import threading
import time

import grpc
import numpy as np
import pytest

from matrixslow.dist import cluster
from matrixslow.dist.ps import (
    NotReadyError,
    ParameterServer,
    ParameterServerClient,
    ParameterState,
    VariableMismatchError,
    shard_variables,
)
from matrixslow.dist.ps.runs import LIVE, OVER
from tests.dist.test_faults import EXAMPLE, REPO, START_SECONDS, ps_spec, wait_for_line

WAIT_SECONDS = 30
# Far above the bound below: a worker that learns it only from its own deadline fails the test.
DEADLINE = 20.0  # also long enough for a worker that starts 10 s late on a loaded machine
# The second worker must stop within this of the first (the 1 s, plus a busy 2-core machine's
# scheduling and interpreter shutdown).
GAP_SECONDS = 1.5
W, W_OTHER = {"w": np.zeros(3)}, {"w": np.zeros(4)}
DISAGREE = (
    "the workers' graphs disagree: variable 'w': worker 1 sends (4,) float64 in its variables, "
    "but the server holds (3,) float64 (run 1's, registered by worker 0)"
)


# ----- one shard's state ---------------------------------------------------------------------


def waiting_pull(state, worker, step, session):
    """Start a pull of ``step`` that waits up to WAIT_SECONDS; returns (thread, what it raised)."""
    raised = []

    def pull():
        try:
            state.pull_mean(worker, step, [], timeout=WAIT_SECONDS, session=session)
        except NotReadyError as error:
            raised.append(str(error))

    thread = threading.Thread(target=pull)
    thread.start()
    time.sleep(0.1)  # the pull is waiting for worker 1's push
    return thread, raised


def test_an_init_with_another_graph_is_refused_and_wakes_the_pull_waiting_for_it():
    state = ParameterState(2)
    state.init(0, W, session=11)
    state.push(0, 0, {"w": np.ones(3)}, 1, session=11)
    thread, raised = waiting_pull(state, 0, 0, session=11)

    started = time.monotonic()
    with pytest.raises(VariableMismatchError) as refused:
        state.init(1, W_OTHER, session=12, join_only=True)
    thread.join(timeout=WAIT_SECONDS)

    assert str(refused.value) == DISAGREE
    assert time.monotonic() - started < 1.0, "the waiting pull was not woken when the run failed"
    assert raised == [f"run 1 is over: {DISAGREE}"]
    assert state.lifecycle() == (OVER, pytest.approx(0, abs=1.0), DISAGREE)


def test_a_push_with_another_graph_ends_the_run_for_every_worker():
    state = ParameterState(2)
    state.init(0, W, session=11)
    state.init(1, W, session=12)
    with pytest.raises(VariableMismatchError, match=r"graphs disagree: variable 'w': worker 1 sends \(4,\) float64 in"):
        state.push(1, 0, {"w": np.ones(4)}, 1, session=12)
    with pytest.raises(NotReadyError, match=r"run 1 is over: the workers' graphs disagree: variable 'w': worker 1"):
        state.push(0, 0, {"w": np.ones(3)}, 1, session=11)


def test_a_caller_outside_the_run_does_not_end_it():
    # Only a member's mismatch ends the run: an index beyond the job is refused on its own.
    state = ParameterState(2)
    state.init(0, W, session=11)
    with pytest.raises(VariableMismatchError, match="worker 2 is outside 0 .. 1"):
        state.init(2, W_OTHER, session=13)
    assert state.lifecycle()[0] == LIVE


def test_after_a_failed_run_a_restarted_job_begins_a_clean_one():
    state = ParameterState(2)
    state.init(0, W, session=11)
    with pytest.raises(VariableMismatchError):
        state.init(1, W_OTHER, session=12, join_only=True)

    state.init(0, W_OTHER, session=21)  # the job restarted, its graphs now agreeing
    state.init(1, W_OTHER, session=22, join_only=True)
    for worker, session in ((0, 21), (1, 22)):
        state.push(worker, 0, {"w": np.full(4, 2.0 * worker)}, 1, session=session)
    ready, means, _, _ = state.pull_mean(1, 0, [], timeout=1, session=22)

    assert ready and state.lifecycle()[0] == LIVE
    np.testing.assert_array_equal(means["w"], np.ones(4))


# ----- two shards, one of them refusing --------------------------------------------------------


def test_a_worker_waiting_on_one_shard_is_told_at_once_when_another_shard_refuses():
    # "a" (big) goes to shard 0, "b" to shard 1: worker 1's other "b" is refused by shard 1 only,
    # while worker 0's pull of step 0 long-polls shard 0 too, where worker 1 joined and never pushes.
    agreed = {"a": np.zeros(64), "b": np.zeros(2)}
    other = {"a": np.zeros(64), "b": np.zeros(3)}
    assert shard_variables(agreed, 2) == shard_variables(other, 2) == {"a": 0, "b": 1}
    servers = [ParameterServer(2) for _ in range(2)]
    try:
        addresses = [server.start() for server in servers]
        options = {"rpc_timeout": WAIT_SECONDS, "step_timeout": WAIT_SECONDS}
        with (
            ParameterServerClient(addresses, 0, **options) as first,
            ParameterServerClient(addresses, 1, **options) as second,
        ):
            first.init(agreed)
            first.push(0, {name: np.ones_like(value) for name, value in agreed.items()}, 1)
            raised, stopped_at = [], []

            def pull():
                try:
                    first.pull(0)
                except grpc.RpcError as error:
                    raised.append(error)
                stopped_at.append(time.monotonic())

            thread = threading.Thread(target=pull)
            thread.start()
            time.sleep(0.2)  # worker 0 waits on both shards
            with pytest.raises(grpc.RpcError) as refused:
                second.init(other)
            refused_at = time.monotonic()
            thread.join(timeout=WAIT_SECONDS)
    finally:
        for server in servers:
            server.stop()

    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "graphs disagree: variable 'b': worker 1 sends (3,) float64" in refused.value.details()
    assert stopped_at and stopped_at[0] - refused_at < 1.0, "worker 0 waited out its pull on the other shard"
    assert raised and raised[0].code() == grpc.StatusCode.FAILED_PRECONDITION
    assert f"parameter server {addresses[1]} failed the call" in str(raised[0])
    assert "run 1 is over: the workers' graphs disagree: variable 'b': worker 1" in raised[0].details()


# ----- real processes: a launcher's shard, two dist_mlp.py workers -------------------------------


def start_worker(processes, spec, index, hidden):
    """A dist_mlp.py worker with its stderr apart, so the test reads the error it exits with."""
    env = dict(os.environ, PYTHONUNBUFFERED="1", **cluster.environment(spec, cluster.WORKER, index, deadline=DEADLINE))
    command = [sys.executable, str(EXAMPLE), "--hidden", str(hidden)]
    process = subprocess.Popen(command, env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    processes.started.append(process)
    return process


def exits(workers):
    """Wait for every worker; returns [(status, when it exited (monotonic), stderr)] in worker order."""
    ended = [None] * len(workers)

    def wait(index):
        _, stderr = workers[index].communicate(timeout=START_SECONDS + DEADLINE)
        ended[index] = (workers[index].returncode, time.monotonic(), stderr)

    threads = [threading.Thread(target=wait, args=(index,)) for index in range(len(workers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return ended


def test_workers_with_hidden_8_and_16_both_exit_with_the_reason_within_a_second_of_each_other(processes):
    spec = ps_spec(1, 2)
    env = dict(os.environ, PYTHONUNBUFFERED="1", **cluster.environment(spec, cluster.PS, 0, deadline=DEADLINE))
    command = [sys.executable, "-m", "matrixslow.dist.launch", "--serve-ps", "--index", "0", "--restart-window", "1"]
    shard = processes._start(command, env)
    wait_for_line(shard, "serving parameter shard")

    started = time.monotonic()
    ended = exits([start_worker(processes, spec, 0, 8), start_worker(processes, spec, 1, 16)])

    reason = re.compile(
        r"the workers' graphs disagree: variable '[^']+': worker 1 sends \(16, 4\) float64 in its variables, "
        r"but the server holds \(8, 4\) float64 \(run 1's, registered by worker 0\)"
    )
    for index, (status, _, stderr) in enumerate(ended):
        assert status != 0, f"worker {index} exited 0:\n{stderr}"
        assert reason.search(stderr), f"worker {index} does not say why:\n{stderr}"
    assert "INVALID_ARGUMENT" in ended[1][2] and "FAILED_PRECONDITION run 1 is over" in ended[0][2]
    gap = abs(ended[0][1] - ended[1][1])
    print(f"exits after {ended[0][1] - started:.2f} s (worker 0), {ended[1][1] - started:.2f} s (worker 1)")
    assert gap <= GAP_SECONDS, f"the workers stopped {gap:.2f} s apart"
    # The shard says why too, waits its --restart-window for a restarted job, then exits 1.
    status = shard.wait(timeout=START_SECONDS)
    output = "".join(shard.lines) + shard.stdout.read()
    assert status == 1, output
    assert reason.search(output.split("run 1 is over: ", 1)[-1]), output
    assert "no live run for" in output and "the last run ended: the workers' graphs disagree" in output, output
