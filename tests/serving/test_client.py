"""serving.Client on its own: waiting for a server that is not (or no longer) there."""

import subprocess
import sys

import pytest

from matrixslow import serving
from matrixslow.dist.launch import free_loopback_addresses


def test_waiting_for_a_server_that_never_starts_times_out_naming_it():
    (address,) = free_loopback_addresses(1)
    with serving.Client(address) as client, pytest.raises(TimeoutError, match=f"{address} did not report SERVING"):
        client.wait_until_serving(0.3)


def test_waiting_for_a_server_whose_process_exited_says_so_at_once():
    (address,) = free_loopback_addresses(1)
    process = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    process.wait(timeout=30)
    with serving.Client(address) as client, pytest.raises(RuntimeError, match="exited with status 3"):
        client.wait_until_serving(30, process)
