"""The whole benchmark suite runs at a tiny size, and its report renders: so the suite cannot rot.

One subprocess runs ``pytest benchmark --tiny`` (every case once, tiny sizes, one case of each
distributed and serving kind) and writes its JSON; a second renders the report from it. Nothing
here looks at a time: only that every kind of case ran and reached the report.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
KINDS = {
    "engine_step", "engine_step_large", "mlp_epoch", "vs_torch", "book_loop", "operator", "scaling", "memory",
    "dist_training", "allreduce", "ps", "serving_forward", "serving_latency", "serving_throughput",
}  # fmt: skip
SECTIONS = (
    "## One training step: matrixslow vs NumPy", "## One epoch of the digits MLP: matrixslow vs scikit-learn",
    "## matrixslow vs PyTorch CPU",
    "## The book's per-sample loops: values readable as `.A`",
    "## Batching gain", "## Operators: forward + backward", "## Scaling", "## Distributed training",
    "## Allreduce bus bandwidth", "## Parameter server push + pull", "## Serving", "## Memory: training the digits CNN",
)  # fmt: skip


def run(command, timeout):
    env = {key: value for key, value in os.environ.items() if not key.startswith("MATRIXSLOW_BENCH_")}
    return subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    directory = tmp_path_factory.mktemp("bench")
    command = [sys.executable, "-m", "pytest", "benchmark", "--tiny", "-q", "-p", "no:cacheprovider"]
    command += ["--benchmark-json", str(directory / "run.json")]
    result = run(command, timeout=240)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    return directory, result.stdout


def test_every_kind_of_case_runs_and_records_what_the_report_needs(tiny_run):
    directory, stdout = tiny_run
    benchmarks = json.loads((directory / "run.json").read_text())["benchmarks"]
    assert {bench["extra_info"].get("kind") for bench in benchmarks} == KINDS
    assert json.loads((directory / "run.json").read_text())["machine_info"]["bench_level"] == "tiny"
    backends = {bench["extra_info"]["backend"] for bench in benchmarks if bench["extra_info"]["kind"] == "allreduce"}
    assert backends == {"grpc", "grpc-ceiling", "mpi"}
    for title in ("matrixslow / twin", "scaling: median step time", "allreduce bus bandwidth", "serving summary"):
        assert title in stdout


def test_the_report_renders_every_section_from_the_tiny_run(tiny_run):
    directory, _ = tiny_run
    command = [sys.executable, "-m", "benchmark.report", str(directory / "run.json"), "--out", str(directory / "out")]
    result = run(command, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    markdown = (directory / "out" / "latest.md").read_text()
    for title in SECTIONS:
        assert title in markdown
    assert len(list((directory / "out").glob("*.png"))) == 3
