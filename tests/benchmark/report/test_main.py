"""Where ``python -m benchmark.report`` writes: the run's level decides unless ``--out`` is given.

The committed report (``benchmark/results/latest.md`` and its charts) is a full run's; a quick or tiny
run's report goes to ``benchmark/results/quick/`` or ``.../tiny/``, which git leaves untracked.
"""

import configparser
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from benchmark.report import default_directory, render
from benchmark.report.__main__ import main

SYNTHETIC = Path(__file__).with_name("synthetic_run.json")  # a quick run
ROOT = Path(__file__).resolve().parents[3]


def run_of_level(tmp_path, level):
    data = json.loads(SYNTHETIC.read_text())
    if level is None:
        del data["machine_info"]["bench_level"]
    else:
        data["machine_info"]["bench_level"] = level
    path = tmp_path / f"{level}.json"
    path.write_text(json.dumps(data))
    return path


@pytest.fixture
def results(tmp_path, monkeypatch):
    """benchmark/results, moved to a temporary folder so the tests never touch the committed report."""
    directory = tmp_path / "results"
    monkeypatch.setattr(render, "RESULTS", directory)
    return directory


def test_the_results_folder_is_the_one_beside_the_benchmark_package():
    assert render.RESULTS == ROOT / "benchmark" / "results"


def test_a_full_run_writes_the_committed_report(tmp_path, results, capsys):
    assert main([str(run_of_level(tmp_path, "full"))]) == 0
    assert (results / "latest.md").read_text().startswith("# matrixslow benchmarks")
    assert (results / "throughput_vs_batch.png").is_file()
    assert [p.name for p in results.iterdir() if p.is_dir()] == []
    assert f"wrote {results / 'latest.md'} (full run)" in capsys.readouterr().out


@pytest.mark.parametrize("level", ["quick", "tiny"])
def test_a_quick_or_tiny_run_writes_a_folder_named_after_its_level(tmp_path, results, capsys, level):
    assert main([str(run_of_level(tmp_path, level))]) == 0
    markdown = (results / level / "latest.md").read_text()
    assert f"{level} run" in markdown
    assert (results / level / "throughput_vs_batch.png").is_file()
    assert not (results / "latest.md").exists() and not list(results.glob("*.png"))
    assert f"{level}/latest.md ({level} run)" in capsys.readouterr().out


@pytest.mark.parametrize("level", [None, "../../elsewhere", "nightly"])
def test_a_run_of_another_or_no_level_goes_to_unknown(tmp_path, results, level):
    assert main([str(run_of_level(tmp_path, level))]) == 0
    assert (results / "unknown" / "latest.md").is_file()
    assert sorted(p.name for p in results.iterdir()) == ["unknown"]


def test_out_puts_any_run_where_the_user_says(tmp_path, results):
    chosen = tmp_path / "chosen"
    assert main([str(run_of_level(tmp_path, "quick")), "--out", str(chosen), "--name", "mine"]) == 0
    assert (chosen / "mine.md").read_text().startswith("# matrixslow benchmarks")
    assert not results.exists()


def test_default_directory_of_each_level():
    assert default_directory("full") == render.RESULTS
    assert default_directory("quick") == render.RESULTS / "quick"
    assert default_directory("tiny") == render.RESULTS / "tiny"
    assert default_directory("unknown") == render.RESULTS / "unknown"


def test_tox_bench_leaves_the_folder_to_the_run_level():
    config = configparser.ConfigParser(interpolation=None)
    config.read(ROOT / "tox.ini")
    report_command = [line for line in config["testenv:bench"]["commands"].splitlines() if "benchmark.report" in line]
    assert len(report_command) == 1 and "--out" not in report_command[0]


def _ignored(relative):
    """Whether git ignores ``relative`` in this checkout (exit 0: ignored, 1: not)."""
    result = subprocess.run(["git", "-C", str(ROOT), "check-ignore", "-q", "--no-index", relative], timeout=30)
    assert result.returncode in (0, 1), f"git check-ignore {relative} exited {result.returncode}"
    return result.returncode == 0


@pytest.mark.skipif(
    shutil.which("git") is None or not (ROOT / ".git").exists(), reason="needs git and a git checkout of the project"
)
def test_git_ignores_the_quick_and_tiny_reports_but_not_the_full_one():
    for level in ("quick", "tiny", "unknown"):
        assert _ignored(f"benchmark/results/{level}/latest.md")
        assert _ignored(f"benchmark/results/{level}/throughput_vs_batch.png")
    assert not _ignored("benchmark/results/latest.md")
    assert not _ignored("benchmark/results/throughput_vs_batch.png")
