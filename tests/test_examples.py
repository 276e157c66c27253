"""The example scripts: each runs from any directory, learns, and reports its test metric on its last line.

Every ``examples/*.py`` is found by a glob, so a new example is run without
touching this file. It runs in a subprocess whose working directory is an empty
temporary one (the scripts must not depend on where they are started), with
fewer epochs where the model still learns well past chance in them. Its last
line must read ``test <metric>: <value>`` and the value must clear a floor far
above what guessing gets.
"""

import ast
import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SCRIPTS = sorted(EXAMPLES.glob("*.py"))

# Fewer epochs than the defaults, still enough to learn (measured). A script not
# listed runs with its defaults, which must finish in seconds anyway.
QUICK_ARGS = {
    "cnn_digits.py": ["--epochs", "3"],
    "deepfm_titanic.py": ["--epochs", "10"],
    "dnn_digits.py": ["--epochs", "5"],
    "fm_titanic.py": ["--epochs", "10"],
    "linear_regression_diabetes.py": ["--epochs", "20"],
    "logistic_regression_breast_cancer.py": ["--epochs", "10"],
    "perceptron_breast_cancer.py": ["--epochs", "10"],
    "plot_training.py": ["--epochs", "5", "--out", "pictures"],  # relative: lands in the temporary cwd
    "rnn_sine_square.py": ["--epochs", "10"],
    "save_and_load.py": ["--epochs", "20"],
    "softmax_regression_iris.py": ["--epochs", "10"],
    "wide_and_deep_titanic.py": ["--epochs", "10"],
}

# Loose floors per script, each well above its data set's chance level (in the
# comment); the quick runs above score well over them.
FLOORS = {
    "cnn_digits.py": 0.80,  # 10 balanced classes: 0.10
    "dnn_digits.py": 0.85,  # 0.10
    "deepfm_titanic.py": 0.72,  # majority class (died): 0.62
    "fm_titanic.py": 0.72,  # 0.62
    "wide_and_deep_titanic.py": 0.72,  # 0.62
    "linear_regression_diabetes.py": 0.20,  # R² of predicting the mean: 0
    "logistic_regression_breast_cancer.py": 0.90,  # majority class (benign): 0.63
    "perceptron_breast_cancer.py": 0.85,  # 0.63
    "plot_training.py": 0.90,  # ROC AUC of guessing: 0.5
    "quickstart.py": 0.90,  # two balanced moons: 0.5
    "rnn_sine_square.py": 0.75,  # balanced: 0.5
    "save_and_load.py": 0.80,  # 3 balanced classes: 0.33
    "softmax_regression_iris.py": 0.75,  # 0.33
}
# For a new example without an entry above, by the name of the metric it prints.
DEFAULT_FLOORS = {"accuracy": 0.75, "auc": 0.75, "macro f1": 0.75, "r2": 0.2}

FINAL_LINE = re.compile(r"test (?P<metric>[a-z0-9 ]+): (?P<value>-?\d+\.\d+)")


def final_metric(script, stdout):
    """The (metric, value) of the script's last output line, or a failure naming the line."""
    lines = stdout.strip().splitlines()
    assert lines, f"{script.name} printed nothing"
    match = FINAL_LINE.fullmatch(lines[-1])
    assert match, f"{script.name}: last line {lines[-1]!r} is not 'test <metric>: <value>'"
    return match["metric"], float(match["value"])


def floor_for(script, metric):
    if script.name in FLOORS:
        return FLOORS[script.name]
    assert metric in DEFAULT_FLOORS, f"{script.name} prints 'test {metric}': add its floor to FLOORS in {__file__}"
    return DEFAULT_FLOORS[metric]


def test_the_glob_finds_every_example():
    names = {script.name for script in SCRIPTS}
    assert names >= set(FLOORS), f"examples listed here but missing: {sorted(set(FLOORS) - names)}"


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda script: script.name)
def test_example_runs_from_anywhere_and_learns(script, tmp_path):
    result = subprocess.run(
        [sys.executable, str(script), *QUICK_ARGS.get(script.name, [])],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, f"{script.name} failed:\n{result.stderr[-3000:]}"
    metric, value = final_metric(script, result.stdout)
    floor = floor_for(script, metric)
    assert value >= floor, f"{script.name}: test {metric} {value} is below the floor {floor}"


def load_example(script):
    """Import a script as a module (its ``if __name__ == "__main__"`` block does not run)."""
    spec = importlib.util.spec_from_file_location(f"example_{script.stem}", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda script: script.name)
def test_example_has_a_docstring_argparse_and_a_main_guard(script):
    tree = ast.parse(script.read_text(encoding="utf-8"))
    docstring = ast.get_docstring(tree)
    run_line = f"python examples/{script.name}"
    assert docstring and run_line in docstring, f"{script.name}: the docstring must say how to run it"
    mains = [node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name == "main"]
    assert mains, f"{script.name} has no main()"
    arguments = mains[0].args
    assert [arg.arg for arg in arguments.args] == ["argv"], f"{script.name}: main must take argv"
    assert isinstance(arguments.defaults[0], ast.Constant) and arguments.defaults[0].value is None
    guard = tree.body[-1]
    assert isinstance(guard, ast.If) and ast.unparse(guard.test) == "__name__ == '__main__'"
    assert ast.unparse(guard.body[0]) == "main()", f"{script.name}: the guard must only call main()"
    assert '"--epochs"' in script.read_text(encoding="utf-8"), f"{script.name} takes no --epochs"


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda script: script.name)
def test_main_returns_the_metrics_it_prints_and_repeats_them(script, tmp_path, capsys):
    module = load_example(script)
    argv = ["--epochs", "1", "--quiet"]
    if script.name == "plot_training.py":
        argv += ["--out", str(tmp_path)]
    first = module.main(argv)
    metric, printed = final_metric(script, capsys.readouterr().out)
    assert isinstance(first, dict)
    # The final line prints one of the returned values, under the key its name abbreviates.
    key = {"macro f1": "f1"}.get(metric, metric)
    assert first[key] == pytest.approx(printed, abs=5e-5)
    second = module.main(argv)
    capsys.readouterr()
    assert second == first, f"{script.name} is not seeded: two runs gave {first} and {second}"


def test_plot_training_writes_three_pictures(tmp_path, capsys):
    load_example(EXAMPLES / "plot_training.py").main(["--epochs", "2", "--quiet", "--out", str(tmp_path / "out")])
    printed = capsys.readouterr().out
    for name in ("history.png", "roc.png", "graph.png"):
        path = tmp_path / "out" / name
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
        assert str(path) in printed, f"plot_training.py did not print the path of {name}"


def test_save_and_load_keeps_the_model_in_dir(tmp_path, capsys):
    metrics = load_example(EXAMPLES / "save_and_load.py").main(["--epochs", "2", "--quiet", "--dir", str(tmp_path)])
    capsys.readouterr()
    assert metrics["max_difference"] <= 1e-12
    assert {path.name for path in tmp_path.iterdir()} == {"model.json", "weights.npz"}
