"""The report's "matrixslow vs PyTorch CPU" table, rendered from synthetic runs with and without the PyTorch cases.

No torch needed: the runs are written here. Medians are chosen to check by hand: batch 16 in 2 ms is
8,000 samples/s, against 4,000 for PyTorch's 4 ms a ratio of 2.00x (matrixslow faster).
"""

import json

from benchmark.report import load_run, render_report
from benchmark.report.tables import TORCH_HINT

TITLE = "## matrixslow vs PyTorch CPU"
CASES = [  # task, title, batch, engine, median seconds
    ("logreg", "logistic regression, breast cancer", 16, "matrixslow", 0.002),
    ("logreg", "logistic regression, breast cancer", 16, "torch", 0.004),
    ("cnn", "CNN 2 x 3 kernels, digits", 32, "matrixslow", 0.004),
    ("cnn", "CNN 2 x 3 kernels, digits", 32, "torch", 0.001),
]


def benchmark_entry(task, title, batch, engine, median, kind="vs_torch"):
    info = {"kind": kind, "model": task, "title": title, "batch": batch, "engine": engine}
    if engine == "torch":
        info.update(torch_version="2.13.0+cpu", threads=2)
    stats = {"median": median, "min": median * 0.9, "mean": median, "stddev": 0.0, "rounds": 5}
    return {"group": f"vs_torch[{task}, batch {batch}]", "name": f"test_{engine}[{task}]", "extra_info": info,
            "stats": stats}  # fmt: skip


def rendered(tmp_path, cases, kind="vs_torch"):
    run = {
        "machine_info": {"cpu_model": "Synthetic CPU", "cpu_count": 2, "bench_level": "quick"},
        "commit_info": {"id": "0123456789abcdef", "dirty": False},
        "datetime": "2026-12-07T12:00:00+00:00",
        "benchmarks": [benchmark_entry(*case, kind=kind) for case in cases],
    }
    path = tmp_path / "run.json"
    path.write_text(json.dumps(run))
    return render_report(load_run(path), tmp_path / "out").read_text()


def section(markdown):
    return markdown.split(f"{TITLE}\n", 1)[1].split("\n## ", 1)[0]


def test_table_puts_the_samples_per_second_side_by_side_with_their_ratio(tmp_path):
    table = section(rendered(tmp_path, CASES))
    assert "| task | batch | matrixslow samples/s | PyTorch samples/s | ratio |" in table
    assert "| logistic regression, breast cancer | 16 | 8,000 | 4,000 | 2.00x |" in table
    assert "| CNN 2 x 3 kernels, digits | 32 | 8,000 | 32,000 | 0.25x |" in table
    assert table.index("logistic regression") < table.index("CNN"), "the tasks in the run's order"
    assert "PyTorch 2.13.0+cpu ran on 2 threads" in table
    assert TORCH_HINT not in table


def test_without_the_pytorch_cases_the_table_says_how_to_get_them(tmp_path):
    table = section(rendered(tmp_path, [case for case in CASES if case[3] == "matrixslow"]))
    assert "| logistic regression, breast cancer | 16 | 8,000 | - | - |" in table
    assert "| CNN 2 x 3 kernels, digits | 32 | 8,000 | - | - |" in table
    assert TORCH_HINT in table and "pip install -e '.[compare]'" in TORCH_HINT
    assert "ran on" not in table


def test_a_run_without_the_comparison_cases_has_no_table(tmp_path):
    cases = [("mlp", "mlp", 32, "matrixslow", 0.003), ("mlp", "mlp", 32, "numpy", 0.001)]
    markdown = rendered(tmp_path, cases, kind="engine_step")
    assert "## One training step: matrixslow vs NumPy" in markdown
    assert TITLE not in markdown
