"""examples/serving/serve_digits.py (outside the examples/*.py glob, since it starts a server) runs and learns."""

import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "serving" / "serve_digits.py"


def test_the_serving_example_trains_serves_and_reports_its_accuracy(tmp_path):
    result = subprocess.run(
        [sys.executable, str(EXAMPLE), "--epochs", "2", "--quiet", "--model-dir", str(tmp_path / "digits")],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    last = result.stdout.strip().splitlines()[-1]
    assert last.startswith("test accuracy: ")
    assert float(last.split(": ")[1]) > 0.8  # guessing gets 0.1
    assert (tmp_path / "digits" / "1" / "model.json").is_file()
