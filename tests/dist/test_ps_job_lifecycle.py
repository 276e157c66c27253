"""A parameter-server shard does not outlive its job: runs, silent workers, restarted jobs, exit.

The first tests drive ``ParameterState`` with a fake clock; the last ones start a real shard with
the launcher's own command (``--cluster spec.json --role ps``), real workers running
examples/distributed/dist_mlp.py, and kill workers with SIGKILL.
"""

import json
import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from matrixslow.dist.launch import free_loopback_addresses
from matrixslow.dist.ps import NotReadyError, ParameterState
from matrixslow.dist.ps.runs import FINISHED, LIVE, OVER
from tests.dist.test_faults import EXAMPLE, START_SECONDS, Processes, exit_and_output, wait_for_line

DEADLINE = 2.0
VARIABLES = {"w": np.zeros(3)}
OLD, NEW = (11, 12), (21, 22)  # the sessions of workers 0 and 1 before and after a restart


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


@pytest.fixture
def clock():
    return FakeClock()


def two_worker_run(clock, sessions=OLD, steps=3):
    """A shard whose two workers (``sessions``) have trained ``steps`` steps."""
    state = ParameterState(2, deadline=DEADLINE, clock=clock)
    train(state, sessions, steps)
    return state


def train(state, sessions, steps, join_only=(False, True)):
    for worker, session in enumerate(sessions):
        state.init(worker, VARIABLES, session, join_only=join_only[worker])
    for step in range(steps):
        for worker, session in enumerate(sessions):
            state.push(worker, step, {"w": np.full(3, float(worker))}, 1, session)
        for worker, session in enumerate(sessions):
            assert state.pull_mean(worker, step, [], timeout=1, session=session)[0]


# ----- runs: one shard, a fake clock ---------------------------------------------------------


def test_a_restarted_job_begins_a_clean_run_that_accepts_its_steps_from_0(clock):
    state = two_worker_run(clock)
    restarted = {"w": np.arange(3.0)}  # worker 0's weights, say from a checkpoint
    values, _ = state.init(0, restarted, NEW[0])
    joined, _ = state.init(1, {"w": np.ones(3)}, NEW[1], join_only=True)

    np.testing.assert_array_equal(values["w"], restarted["w"])
    np.testing.assert_array_equal(joined["w"], restarted["w"])  # worker 1 starts from worker 0's, as at a first start
    state.push(0, 0, {"w": np.full(3, 2.0)}, 1, NEW[0])
    state.push(1, 0, {"w": np.full(3, 4.0)}, 3, NEW[1])
    ready, means, count, _ = state.pull_mean(1, 0, [], timeout=1, session=NEW[1])
    assert ready and count == 4
    np.testing.assert_array_equal(means["w"], np.full(3, (2.0 + 4.0) / 4))  # gradient sums over 4 samples
    assert state.lifecycle()[0] == LIVE


def test_within_one_run_a_repeated_or_decreasing_step_is_still_refused(clock):
    state = two_worker_run(clock)
    for step in (2, 1):
        with pytest.raises(NotReadyError, match=f"worker 0 already pushed step 2; steps must increase, got {step}"):
            state.push(0, step, {"w": np.ones(3)}, 1, OLD[0])


def test_a_process_of_the_run_before_is_refused_once_the_new_run_begins(clock):
    state = two_worker_run(clock)
    state.init(0, VARIABLES, NEW[0])
    with pytest.raises(NotReadyError, match=r"worker 1: this process is not part of run 2"):
        state.push(1, 3, {"w": np.ones(3)}, 1, OLD[1])
    with pytest.raises(NotReadyError, match=r"worker 0: this process is not part of run 2"):
        state.pull_mean(0, 2, [], timeout=0, session=OLD[0])


def test_a_worker_silent_for_the_deadline_is_logged_once_and_the_live_one_is_told_who(clock, caplog):
    caplog.set_level(logging.INFO, logger="matrixslow.dist.ps")
    state = two_worker_run(clock)
    state.push(0, 3, {"w": np.ones(3)}, 1, OLD[0])  # worker 1 never pushes step 3: it died

    def worker_0_polls_then_the_shard_looks(seconds):
        clock.now += seconds
        state.pull_mean(0, 3, [], timeout=0, session=OLD[0])  # worker 0's long-poll: it is heard
        state.check_deadline()

    worker_0_polls_then_the_shard_looks(DEADLINE - 0.1)
    assert state.lifecycle()[0] == LIVE  # not yet: the deadline has not passed
    worker_0_polls_then_the_shard_looks(0.6)
    clock.now += 5.0
    state.check_deadline()  # later looks log nothing more: neither worker 1 again nor worker 0, now stopping too

    silent = [record.getMessage() for record in caplog.records if "silent for" in record.getMessage()]
    assert silent == ["run 1: worker 1 silent for 2.5 s (last step 2)"]
    assert state.lifecycle()[0] == OVER
    with pytest.raises(NotReadyError, match=re.escape("run 1 is over: worker 1 silent for 2.5 s (last step 2)")):
        state.pull_mean(0, 3, [], timeout=0, session=OLD[0])


def test_a_pull_waiting_for_a_worker_that_goes_silent_is_refused_at_once(clock):
    state = two_worker_run(clock)
    state.push(0, 3, {"w": np.ones(3)}, 1, OLD[0])
    raised = []

    def pull():
        try:
            state.pull_mean(0, 3, [], timeout=30, session=OLD[0])
        except NotReadyError as error:
            raised.append(str(error))

    waiting = threading.Thread(target=pull)
    waiting.start()
    time.sleep(0.1)  # the pull is waiting for worker 1's push
    clock.now += DEADLINE
    started = time.monotonic()
    state.check_deadline()
    waiting.join(timeout=10)

    assert time.monotonic() - started < 2, "the waiting pull was not woken when the run ended"
    assert raised and "worker 1 silent for 2.0 s (last step 2)" in raised[0]


def test_a_restarted_worker_waits_instead_of_reading_the_old_run(clock):
    state = two_worker_run(clock)
    # Worker 1's new process asks for the values before worker 0's new process has begun the new run.
    with pytest.raises(NotReadyError, match=r"worker 1 waits for a new run to begin: run 1 is over \(worker 1 started"):
        state.values([], 1, NEW[1])
    with pytest.raises(NotReadyError, match=r"worker 1 waits"):
        state.init(1, VARIABLES, NEW[1], join_only=True)  # nor may it begin one with its own weights
    with pytest.raises(NotReadyError, match=r"run 1 is over: worker 1 started again \(a new process\)"):
        state.pull_mean(0, 3, [], timeout=0, session=OLD[0])

    state.init(0, VARIABLES, NEW[0])
    assert state.values([], 1, NEW[1])[1] == 0  # now it may: run 2 has begun


def test_a_run_every_worker_left_is_finished_and_nobody_is_called_silent(clock, caplog):
    caplog.set_level(logging.INFO, logger="matrixslow.dist.ps")
    state = two_worker_run(clock)
    state.leave(0, OLD[0])
    assert state.lifecycle()[0] == LIVE  # worker 1 is still at work
    state.leave(1, OLD[1])
    clock.now += 10 * DEADLINE
    state.check_deadline()

    assert state.lifecycle() == (FINISHED, 10 * DEADLINE, None)
    assert not [record for record in caplog.records if "silent" in record.getMessage()]


# ----- a real shard started by the launcher, real workers ------------------------------------

STEP_DELAY = "0.01"
EPOCHS = 20  # 8 steps an epoch: 160 steps, about 3 s at 0.01 s and a round trip a step
CHECKPOINT_EVERY = 8
EXIT_SLACK_SECONDS = 1.5  # interpreter start and shutdown on a busy 2-core machine


class Job(Processes):
    """A standalone shard (``--cluster --role ps``) and workers started as the launcher would start them."""

    def shard(self, spec_path, *flags):
        command = [sys.executable, "-m", "matrixslow.dist.launch", "--cluster", str(spec_path), "--role", "ps"]
        command += ["--index", "0", "--deadline", str(DEADLINE), *flags]
        process = self._start(command, dict(os.environ, PYTHONUNBUFFERED="1"))
        wait_for_line(process, "serving parameter shard 0")
        return process


@pytest.fixture
def job():
    started = Job()
    try:
        yield started
    finally:
        started.kill_all()


def write_spec(tmp_path, workers=2):
    addresses = free_loopback_addresses(1 + workers)
    spec = {"ps": addresses[:1], "workers": addresses[1:]}
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(spec))
    return spec, path


def start_workers(job, spec, *script_args, **options):
    return [job.worker(spec, index, *script_args, deadline=DEADLINE, **options) for index in range(2)]


def test_a_job_killed_and_restarted_against_the_same_shard_trains_to_its_end(job, tmp_path):
    spec, spec_path = write_spec(tmp_path)
    shard = job.shard(spec_path)
    checkpoints = tmp_path / "checkpoints"
    script_args = ["--epochs", str(EPOCHS), "--step-delay", STEP_DELAY]
    options = {"checkpoint_dir": checkpoints, "checkpoint_every": CHECKPOINT_EVERY}
    first = start_workers(job, spec, *script_args, **options)
    give_up_at = time.monotonic() + START_SECONDS
    while not (checkpoints / "step-000000016" / "model.json").is_file():
        assert all(worker.poll() is None for worker in first) and time.monotonic() < give_up_at, "no checkpoint"
        time.sleep(0.02)
    for worker in first:
        worker.send_signal(signal.SIGKILL)
    for worker in first:
        worker.wait(timeout=10)

    again = start_workers(job, spec, *script_args, **options)
    outputs = [exit_and_output(worker, START_SECONDS) for worker in again]
    for status, _, output in outputs:
        assert status == 0, output
        assert f"trained to step {EPOCHS * 8}" in output, output
    resumed = [re.findall(r"resumed from checkpoint step (\d+)", output) for _, _, output in outputs]
    assert resumed[0] == resumed[1] and len(resumed[0]) == 1, outputs
    assert 16 <= int(resumed[0][0]) < EPOCHS * 8  # really a restart mid-training, from a checkpoint
    digests = {re.search(r"weights sha256 (\w+)", output).group(1) for _, _, output in outputs}
    assert digests == {unbroken_digest()}  # the restart lost nothing and the new run carried nothing over
    # Its job finished, the shard goes: it does not outlive it.
    status, _, shard_output = exit_and_output(shard, 5)
    assert status == 0, shard_output
    assert "run 2 begins with an Init from worker" in shard_output, shard_output
    assert "every worker left its run; the job is finished, exiting" in shard_output


def unbroken_digest():
    """The weights checksum of the same job run once, unbroken, by the launcher on fresh shards."""
    command = [sys.executable, "-m", "matrixslow.dist.launch", "--mode", "ps", "--ps", "1", "--workers", "2"]
    result = subprocess.run(
        [*command, str(EXAMPLE), "--epochs", str(EPOCHS)], capture_output=True, text=True, timeout=START_SECONDS
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return re.search(r"^\[worker 0\] weights sha256 (\w+)$", result.stdout, re.M).group(1)


def test_a_killed_worker_is_named_by_the_shard_which_exits_non_zero_when_nobody_restarts(job, tmp_path):
    spec, spec_path = write_spec(tmp_path)
    restart_window = 2.0
    shard = job.shard(spec_path, "--restart-window", str(restart_window))
    workers = start_workers(job, spec, "--epochs", "500", "--step-delay", "0.02")
    for worker in workers:
        wait_for_line(worker, "samples")
    time.sleep(1.0)  # well into training
    workers[1].send_signal(signal.SIGKILL)
    killed_at = time.monotonic()

    named = wait_for_line(shard, "silent for", timeout=2 * DEADLINE + EXIT_SLACK_SECONDS)
    named_after = time.monotonic() - killed_at
    assert re.fullmatch(r"run 1: worker 1 silent for \d+\.\d s \(last step \d+\)\n", named), named
    assert named_after <= 2 * DEADLINE, f"named after {named_after:.1f} s"
    status, _, survivor_output = exit_and_output(workers[0], 2 * DEADLINE + EXIT_SLACK_SECONDS)
    assert status != 0
    assert re.search(r"worker 1 silent for|workers \[1\]", survivor_output), survivor_output  # told who is gone

    status, waited, shard_output = exit_and_output(shard, restart_window + EXIT_SLACK_SECONDS)
    assert status == 1, shard_output
    assert waited <= restart_window + EXIT_SLACK_SECONDS, f"the shard exited after {waited:.1f} s more"
    assert re.search(
        r"no live run for \d+\.\d s \(--restart-window 2\): the last run ended: worker 1 silent", shard_output
    )
    assert "exiting with status 1" in shard_output
    assert len(re.findall(r"^run 1: worker 1 silent for", shard_output, re.M)) == 1, shard_output  # logged once
