"""Real processes, real failures: a peer killed mid-training, a peer that never starts, a busy port,
graphs that disagree. Every surviving process must stop on its own, within twice the deadline,
naming the peer that went away.

Workers run examples/distributed/dist_mlp.py directly with their place in the environment (as
the launcher would start them), so that no launcher stops them for us; every process has a hard
timeout and is killed at the end of its test.
"""

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from matrixslow.dist import cluster
from matrixslow.dist.launch import free_loopback_addresses

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "distributed" / "dist_mlp.py"
DEADLINE = 2.0
# Slow steps and many epochs: the job is still training whenever a test kills a process.
LONG_JOB = ["--epochs", "500", "--step-delay", "0.02"]
START_SECONDS = 30
EXIT_SLACK_SECONDS = 1.5  # interpreter shutdown on a busy 2-core machine, on top of 2 x DEADLINE


class Processes:
    """Started processes, each killed at the end however the test went."""

    def __init__(self):
        self.started = []

    def worker(self, spec, index, *script_args, **options):
        env = dict(os.environ, PYTHONUNBUFFERED="1", **cluster.environment(spec, cluster.WORKER, index, **options))
        return self._start([sys.executable, str(EXAMPLE), *script_args], env)

    def parameter_server(self, spec, index):
        command = [sys.executable, "-m", "matrixslow.dist.launch", "--serve-ps", "--index", str(index)]
        env = dict(os.environ, PYTHONUNBUFFERED="1", **cluster.environment(spec, cluster.PS, index))
        process = self._start(command, env)
        wait_for_line(process, "serving parameter shard")
        return process

    def _start(self, command, env):
        process = subprocess.Popen(
            command, env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
        )
        process.lines = []
        self.started.append(process)
        return process

    def kill_all(self):
        for process in self.started:
            if process.poll() is None:
                process.kill()
            process.wait(timeout=10)


def wait_for_line(process, text, timeout=START_SECONDS):
    """Read ``process``'s output until a line contains ``text``; keeps the lines read."""
    give_up_at = time.monotonic() + timeout
    while time.monotonic() < give_up_at:
        line = process.stdout.readline()
        if not line:
            break
        process.lines.append(line)
        if text in line:
            return line
    raise AssertionError(f"no line with {text!r}; output so far:\n{''.join(process.lines)}")


def exit_and_output(process, within):
    """Wait ``within`` seconds for ``process`` to exit; returns (status, seconds waited, whole output)."""
    started = time.monotonic()
    try:
        rest, _ = process.communicate(timeout=within + 30)  # the extra is only for a readable failure
    except subprocess.TimeoutExpired:
        process.kill()
        rest, _ = process.communicate()
    return process.returncode, time.monotonic() - started, "".join(process.lines) + rest


def assert_stops_naming(process, peer, within):
    status, waited, output = exit_and_output(process, within)
    assert status != 0, output
    assert waited <= within, f"stopped after {waited:.1f} s, more than {within} s\n{output}"
    assert peer in output, f"the error should name {peer}\n{output}"


def ring_spec(workers):
    return {"ps": [], "workers": free_loopback_addresses(workers)}


def ps_spec(shards, workers):
    addresses = free_loopback_addresses(shards + workers)
    return {"ps": addresses[:shards], "workers": addresses[shards:]}


def training_job(processes, spec):
    """Start every shard and worker of ``spec``; returns the workers once they are well into training."""
    for index in range(len(spec["ps"])):
        processes.parameter_server(spec, index)
    workers = [processes.worker(spec, index, *LONG_JOB, deadline=DEADLINE) for index in range(len(spec["workers"]))]
    for worker in workers:
        wait_for_line(worker, "samples")
    time.sleep(1.0)
    return workers


def kill_and_expect_the_others_to_name_it(victim, survivors, peer):
    victim.send_signal(signal.SIGKILL)
    killed_at = time.monotonic()
    for survivor in survivors:
        left = 2 * DEADLINE + EXIT_SLACK_SECONDS - (time.monotonic() - killed_at)
        assert_stops_naming(survivor, peer, left)


def test_a_ring_worker_killed_mid_training_stops_both_neighbours_naming_it(processes):
    spec = ring_spec(3)
    workers = training_job(processes, spec)
    kill_and_expect_the_others_to_name_it(workers[1], [workers[0], workers[2]], spec["workers"][1])


def test_a_parameter_server_killed_mid_training_stops_every_worker_naming_it(processes):
    spec = ps_spec(1, 2)
    workers = training_job(processes, spec)
    kill_and_expect_the_others_to_name_it(processes.started[0], workers, spec["ps"][0])


def test_a_parameter_server_worker_killed_mid_training_stops_the_others_naming_it(processes):
    spec = ps_spec(1, 2)
    workers = training_job(processes, spec)
    kill_and_expect_the_others_to_name_it(workers[1], [workers[0]], "workers [1]")


def test_a_ring_neighbour_that_never_starts_is_named(processes):
    spec = ring_spec(2)
    lonely = processes.worker(spec, 0, deadline=DEADLINE)
    assert_stops_naming(lonely, spec["workers"][1], START_SECONDS)


def test_a_parameter_server_that_never_starts_is_named(processes):
    spec = ps_spec(1, 1)
    lonely = processes.worker(spec, 0, deadline=DEADLINE)
    assert_stops_naming(lonely, spec["ps"][0], START_SECONDS)


def test_a_worker_whose_port_is_in_use_fails_at_start_up_naming_it(processes):
    spec = ring_spec(2)
    host, port = spec["workers"][0].rsplit(":", 1)
    with socket.socket() as squatter:
        squatter.bind((host, int(port)))
        squatter.listen()
        worker = processes.worker(spec, 0, deadline=DEADLINE)
        status, _, output = exit_and_output(worker, START_SECONDS)
    assert status != 0
    assert re.search(rf"ring worker 0 cannot listen on {re.escape(spec['workers'][0])}: the port is in use", output)


def test_a_parameter_server_whose_port_is_in_use_fails_at_start_up_naming_it(processes):
    spec = ps_spec(1, 1)
    host, port = spec["ps"][0].rsplit(":", 1)
    with socket.socket() as squatter:
        squatter.bind((host, int(port)))
        squatter.listen()
        command = [sys.executable, "-m", "matrixslow.dist.launch", "--serve-ps", "--index", "0"]
        env = dict(os.environ, **cluster.environment(spec, cluster.PS, 0))
        result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=START_SECONDS)
    assert result.returncode != 0
    assert f"parameter server cannot listen on {spec['ps'][0]}: the port is in use" in result.stdout + result.stderr


@pytest.mark.parametrize("mode", ["ring", "ps"])
def test_workers_whose_graphs_disagree_fail_at_start_up(processes, mode):
    spec = ring_spec(2) if mode == "ring" else ps_spec(1, 2)
    if mode == "ps":
        processes.parameter_server(spec, 0)
    workers = [
        processes.worker(spec, 0, deadline=DEADLINE),
        processes.worker(spec, 1, "--hidden", "5", deadline=DEADLINE),
    ]
    outputs = [exit_and_output(worker, START_SECONDS) for worker in workers]
    for status, _, output in outputs:
        assert status != 0, output
    if mode == "ring":  # both sides learn it from the exchanged fingerprints
        for _, _, output in outputs:
            assert "the workers' graphs disagree" in output, output
    else:  # the server compares worker 1's variables with the ones worker 0 registered
        assert re.search(
            r"variable '[^']+': worker 1 sends \((5, \d+|\d+, 5)\) float64 in its variables, but the server holds",
            outputs[1][2],
        ), outputs[1][2]
