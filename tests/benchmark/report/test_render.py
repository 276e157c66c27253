"""The report rendered from a small synthetic run (synthetic_run.json): every number comes from the file.

The synthetic medians are chosen so the expected figures are easy to check by hand: matrixslow 3 ms
vs NumPy 2 ms is 1.50x, a 1 MiB allreduce of 2 processes in 1 ms is 1.049 GB/s, and so on.
"""

import json
import shutil
from pathlib import Path

import pytest

from benchmark.report import load_run, render_report
from benchmark.report.__main__ import main

SYNTHETIC = Path(__file__).with_name("synthetic_run.json")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    directory = tmp_path_factory.mktemp("report")
    path = render_report(load_run(SYNTHETIC), directory)
    return directory, path.read_text()


def section(markdown, title):
    """The lines of the section headed ``## title``."""
    text = markdown.split(f"## {title}\n", 1)[1]
    return text.split("\n## ", 1)[0]


def test_header_names_the_run_date_cpu_and_level(report):
    _, markdown = report
    assert markdown.startswith("# matrixslow benchmarks\n")
    assert "2026-01-02 03:04 UTC" in markdown
    assert "Synthetic CPU Model 9000" in markdown  # the run's own CPU, not the rendering machine's
    assert "quick run" in markdown and "commit 0123456789" in markdown
    assert "Load average (1, 5, 15 min) at the end of the run: 2.5, 1.25, 1" in markdown


def test_engine_table_gives_the_ratio_of_medians(report):
    _, markdown = report
    table = section(markdown, "One training step: matrixslow vs NumPy")
    # the synthetic minima are 0.9 x the medians, so their ratios are the same
    assert "| mlp | 1 | float64 | 3 | 2 | 1.50x | 1.50x |" in table
    assert "| mlp | 32 | float64 | 4 | 1 | 4.00x | 4.00x |" in table


def test_sklearn_table_compares_one_epoch(report):
    _, markdown = report
    table = section(markdown, "One epoch of the digits MLP: matrixslow vs scikit-learn")
    assert "| adam | 1347 | 10 | 5 | 8 | 1.25x | 2.00x |" in table


def test_batching_gain_table(report):
    _, markdown = report
    table = section(markdown, "Batching gain")
    # matrixslow: 1 / 3 ms = 333 samples/s at 1, 32 / 4 ms = 8,000 at 32: a gain of 24
    assert "| mlp | matrixslow | 333 | 8,000 | 24.00x |" in table


def test_scaling_section_prints_the_fitted_exponents(report):
    _, markdown = report
    table = section(markdown, "Scaling")
    # the synthetic minima are 0.9 x the medians: the same exponent
    assert "| batch | mlp | matrixslow | 1..64 | 4 | 0.50 | 1.000 | 0.50 | 0.50 |" in table
    assert "| width | mlp-w | matrixslow | 64..256 | 3 | 2.00 | 1.000 | 2.00 | 2.00 |" in table
    assert "![throughput vs batch size](throughput_vs_batch.png)" in table


def test_distributed_tables(report):
    _, markdown = report
    training = section(markdown, "Distributed training")
    assert "| mlp | ring-2 | 2 | 1,500 | 1.50x | 30.00 | 10.00 | 25% |" in training
    allreduce = section(markdown, "Allreduce bus bandwidth")
    assert "| 2 | 1 MiB | 1.049 | 2.097 |" in allreduce
    assert "| 1 MiB | 1 | 2 | 104.9 | 10 | 40% |" in section(markdown, "Parameter server push + pull")


def test_serving_tables(report):
    _, markdown = report
    table = section(markdown, "Serving")
    assert "| mlp | one request, unbatched | 0.700 | 0.900 | 0.600 |" in table  # overhead: p50 - 0.1 ms forward
    assert "| mlp | one request, noop | 0.400 | 0.500 | - |" in table  # no model: no overhead
    assert "| mlp | 16 | 2,000 | 20.0 | 5,000 | 9.0 | 2.50x |" in table


def test_memory_table(report):
    _, markdown = report
    assert "| 256 | 53.2 | 7.2 | 14.0 | 16 |" in section(markdown, "Memory: training the digits CNN")


def test_the_three_charts_are_png_files(report):
    directory, markdown = report
    for name in ("throughput_vs_batch.png", "bandwidth_vs_payload.png", "latency_vs_concurrency.png"):
        assert (directory / name).read_bytes()[:8] == PNG_MAGIC
        assert f"({name})" in markdown


def test_a_run_of_engine_cases_only_leaves_out_the_other_sections_and_charts(tmp_path):
    run = json.loads(SYNTHETIC.read_text())
    run["benchmarks"] = [b for b in run["benchmarks"] if b["extra_info"]["kind"] == "engine_step"]
    partial = tmp_path / "partial.json"
    partial.write_text(json.dumps(run))
    markdown = render_report(load_run(partial), tmp_path / "out").read_text()
    assert "## One training step" in markdown
    assert "## Serving" not in markdown and "## Allreduce" not in markdown
    assert sorted(p.name for p in (tmp_path / "out").glob("*.png")) == ["throughput_vs_batch.png"]


def test_command_line_writes_the_named_report(tmp_path, capsys):
    shutil.copy(SYNTHETIC, tmp_path / "run.json")
    assert main([str(tmp_path / "run.json"), "--out", str(tmp_path / "results"), "--name", "nightly"]) == 0
    assert (tmp_path / "results" / "nightly.md").read_text().startswith("# matrixslow benchmarks")
    assert "nightly.md" in capsys.readouterr().out


def test_a_file_that_is_not_a_benchmark_run_is_refused(tmp_path):
    (tmp_path / "other.json").write_text('{"results": []}')
    with pytest.raises(ValueError, match="no 'benchmarks' list"):
        load_run(tmp_path / "other.json")
