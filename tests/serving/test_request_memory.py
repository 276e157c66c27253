"""A large JSON request's peak memory in the server: at most 4x its body plus what the model itself needs.

"The model" is measured, not guessed: the peak memory of the same inputs sent over gRPC, which
carries them as raw float64 bytes (the tensors, the batch, the forward pass and its outputs).
The peak is the server's VmHWM, reset before each request through /proc/PID/clear_refs.
Before the body was read without Python objects per number, a 58 MB body of floats peaked at
9.5x its size and a 32 MB body of small integers at 30x.
"""

import json
import urllib.request
from pathlib import Path

import numpy as np
import pytest

import matrixslow as ms

from .support import export, running_server

BODY_TIMES = 4


def rss_bytes(pid, field):
    """``field`` ("VmRSS", "VmHWM") of /proc/PID/status, in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no {field} in /proc/{pid}/status")


def peak_growth(pid, send):
    """How far the server's resident memory rose above where it was while ``send()`` ran."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # "5" resets VmHWM to the current VmRSS
    before = rss_bytes(pid, "VmRSS")
    result = send()
    return rss_bytes(pid, "VmHWM") - before, result


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A model whose inputs are large next to its work: (64, 1) in, 4 hidden units, 2 out."""
    directory = tmp_path_factory.mktemp("memory")
    _, model = export(directory / "wide", 1, lambda: ms.model.dnn(64, [4], 2), seed=3)
    with running_server(directory / "wide", directory) as running:
        try:
            Path(f"/proc/{running.process.pid}/clear_refs").write_text("5")
        except OSError as error:
            pytest.skip(f"cannot reset the server's peak memory through /proc/PID/clear_refs: {error}")
        yield running


@pytest.mark.parametrize(
    ("samples", "values"),
    [(20_000, "floats"), (50_000, "small integers")],
    ids=["floats", "small-integers"],  # ~20 bytes of JSON per number, and ~5: the worst case for json.loads
)
def test_a_large_json_request_peaks_at_most_4x_its_body_plus_the_model(server, samples, values):
    rng = np.random.default_rng(samples)
    x = rng.normal(size=(samples, 64, 1)) if values == "floats" else rng.integers(0, 10, size=(samples, 64, 1))
    x = x.astype(np.float64)
    body = json.dumps({"inputs": {"x": x.tolist() if values == "floats" else x.astype(int).tolist()}}).encode()
    pid = server.process.pid

    with server.client(timeout=120) as client:
        model_bytes, expected = peak_growth(pid, lambda: client.predict({"x": x})["predict"])

    def post():
        request = urllib.request.Request(f"http://{server.http}/v1/models/wide:predict", data=body, method="POST")
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, json.loads(response.read())

    json_bytes, (status, answer) = peak_growth(pid, post)
    assert status == 200
    np.testing.assert_array_equal(np.array(answer["outputs"]["predict"]), expected)
    mb = 1e6
    assert json_bytes <= BODY_TIMES * len(body) + model_bytes, (
        f"a {len(body) / mb:.0f} MB body of {values} took {json_bytes / mb:.0f} MB at its peak; the bound is "
        f"{BODY_TIMES} x the body + {model_bytes / mb:.0f} MB (the same request over gRPC)"
    )
