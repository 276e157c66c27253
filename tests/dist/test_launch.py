"""matrixslow.dist.launch and matrixslow.dist.cluster: jobs start, report, agree and stop.

Every launcher run is a subprocess with a timeout well under a minute, so no test can hang.
"""

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from matrixslow.dist import cluster

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "distributed" / "dist_mlp.py"  # outside examples/*.py: it needs the launcher
RUN_TIMEOUT_SECONDS = 40


def launch(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "matrixslow.dist.launch", *map(str, args)],
        capture_output=True, text=True, timeout=RUN_TIMEOUT_SECONDS, cwd=cwd,
    )  # fmt: skip


def checksums(stdout):
    """``{worker index: weights sha256}`` from the prefixed output."""
    found = re.findall(r"^\[worker (\d+)\] weights sha256 ([0-9a-f]{64})$", stdout, flags=re.MULTILINE)
    return {int(index): digest for index, digest in found}


def assert_every_worker_agrees(result, num_workers):
    assert result.returncode == 0, result.stdout + result.stderr
    for index in range(num_workers):
        assert re.search(rf"^\[worker {index}\] \w+ worker {index} of {num_workers}", result.stdout, re.MULTILINE)
    digests = checksums(result.stdout)
    assert sorted(digests) == list(range(num_workers)), result.stdout
    assert len(set(digests.values())) == 1, digests


def test_allreduce_mode_trains_the_example_to_identical_weights(tmp_path):
    result = launch("--mode", "allreduce", "--workers", 2, EXAMPLE, "--epochs", 2, cwd=tmp_path)
    assert_every_worker_agrees(result, 2)


def test_parameter_server_mode_trains_the_example_to_identical_weights(tmp_path):
    result = launch("--mode", "ps", "--ps", 1, "--workers", 2, EXAMPLE, "--epochs", 2, cwd=tmp_path)
    assert_every_worker_agrees(result, 2)
    assert re.search(r"^\[ps 0\] serving parameter shard 0 on 127\.0\.0\.1:\d+ for 2 workers$", result.stdout, re.M)


def test_more_training_changes_the_checksum_so_equal_checksums_mean_something(tmp_path):
    ring = launch("--mode", "allreduce", "--workers", 2, EXAMPLE, "--epochs", 1, cwd=tmp_path)
    longer = launch("--mode", "allreduce", "--workers", 2, EXAMPLE, "--epochs", 2, cwd=tmp_path)
    assert_every_worker_agrees(ring, 2)
    assert_every_worker_agrees(longer, 2)
    assert checksums(ring.stdout)[0] != checksums(longer.stdout)[0]


FAILING_SCRIPT = """
import sys, time
from matrixslow.dist import cluster
place = cluster.current()
print("started", place.index, flush=True)
if place.index == 1:
    sys.exit(1)
time.sleep(60)
"""


def test_a_failing_worker_fails_the_job_and_stops_the_others_quickly(tmp_path):
    script = tmp_path / "fails.py"
    script.write_text(FAILING_SCRIPT)
    started = time.monotonic()
    result = launch("--mode", "ps", "--ps", 1, "--workers", 3, "--grace", 2, script)
    assert result.returncode != 0
    assert time.monotonic() - started < 15  # the sleeping workers were stopped, not waited for
    assert "[launch] worker 1 exited with status 1" in result.stdout


PRINT_PLACE = """
import json
from matrixslow.dist import cluster
place = cluster.current()
print(json.dumps([place.role, place.index, place.mode, place.cluster_conf, place.num_workers]), flush=True)
"""


def test_cluster_mode_runs_one_worker_with_its_place_from_the_spec_file(tmp_path):
    spec = {"ps": ["10.0.0.1:7000"], "workers": ["10.0.0.2:7001", "10.0.0.3:7002"]}
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    (tmp_path / "place.py").write_text(PRINT_PLACE)
    result = launch("--cluster", tmp_path / "spec.json", "--role", "worker", "--index", 1, tmp_path / "place.py")
    assert result.returncode == 0, result.stdout + result.stderr
    line = result.stdout.strip().splitlines()[-1]
    assert line.startswith("[worker 1] ")
    assert json.loads(line.removeprefix("[worker 1] ")) == ["worker", 1, "ps", spec, 2]


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("{not json", "not valid JSON"),
        ('{"ps": []}', '"workers" is missing'),
        ('{"workers": "127.0.0.1:1"}', '"workers" must be a list'),
        ('{"workers": ["localhost"]}', '"workers"[0] must be "host:port"'),
        ('["127.0.0.1:1"]', "must be a JSON object"),
    ],
)
def test_a_bad_spec_file_is_reported_with_its_file_and_field(tmp_path, text, named):
    path = tmp_path / "spec.json"
    path.write_text(text)
    with pytest.raises(cluster.ClusterError) as error:
        cluster.load_spec(path)
    assert str(path) in str(error.value) and named in str(error.value)


def test_the_launcher_reports_a_bad_spec_file_and_fails(tmp_path):
    path = tmp_path / "spec.json"
    path.write_text('{"ps": ["127.0.0.1:1"]}')
    result = launch("--cluster", path, "--role", "worker", "--index", 0, EXAMPLE)
    assert result.returncode != 0
    assert str(path) in result.stderr and '"workers" is missing' in result.stderr


def test_an_index_outside_the_spec_is_reported(tmp_path):
    path = tmp_path / "spec.json"
    path.write_text('{"workers": ["127.0.0.1:1"]}')
    result = launch("--cluster", path, "--role", "worker", "--index", 3, EXAMPLE)
    assert result.returncode != 0 and "worker index 3 is outside" in result.stderr


def test_current_without_a_launcher_says_how_to_launch():
    with pytest.raises(cluster.ClusterError, match=r"not launched .*matrixslow\.dist\.launch"):
        cluster.current(environ={})


def test_current_reads_the_launcher_environment():
    spec = {"ps": [], "workers": ["127.0.0.1:5000", "127.0.0.1:5001", "127.0.0.1:5002"]}
    place = cluster.current(environ=cluster.environment(spec, "worker", 2))
    assert (place.role, place.index, place.mode, place.num_workers) == ("worker", 2, "allreduce", 3)
    assert place.cluster_conf == spec and place.address == "127.0.0.1:5002"


def test_cluster_mode_serves_one_parameter_shard_on_its_spec_address_until_terminated(tmp_path):
    from matrixslow.dist.launch import free_loopback_addresses, wait_until_listening

    address, worker = free_loopback_addresses(2)
    path = tmp_path / "spec.json"
    path.write_text(json.dumps({"ps": [address], "workers": [worker]}))
    command = [sys.executable, "-m", "matrixslow.dist.launch", "--cluster", str(path), "--role", "ps", "--index", "0"]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_until_listening(address, server, timeout=RUN_TIMEOUT_SECONDS)
        server.terminate()
        output, _ = server.communicate(timeout=RUN_TIMEOUT_SECONDS)
    finally:
        server.kill()
        server.wait(timeout=RUN_TIMEOUT_SECONDS)
    assert server.returncode == 0, output
    assert f"serving parameter shard 0 on {address} for 1 workers" in output


ALLOCATOR_SCRIPT = """
import os
print("mmap threshold", os.environ.get("MALLOC_MMAP_THRESHOLD_"), flush=True)
"""


def test_launched_processes_reuse_freed_part_buffers_unless_the_user_set_the_allocator(tmp_path, monkeypatch):
    script = tmp_path / "allocator.py"
    script.write_text(ALLOCATOR_SCRIPT)
    monkeypatch.delenv("MALLOC_MMAP_THRESHOLD_", raising=False)
    result = launch("--mode", "allreduce", "--workers", 1, script)
    assert f"[worker 0] mmap threshold {32 << 20}" in result.stdout, result.stdout + result.stderr
    monkeypatch.setenv("MALLOC_MMAP_THRESHOLD_", "4096")
    result = launch("--mode", "allreduce", "--workers", 1, script)
    assert "[worker 0] mmap threshold 4096" in result.stdout, result.stdout + result.stderr
