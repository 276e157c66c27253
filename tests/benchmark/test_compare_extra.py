"""Only the PyTorch comparison needs torch: the ``compare`` extra, installed by the tests and ``tox -e bench-compare``.

The tests install it so that the PyTorch twins are checked against the engine (test_torch_twins.py);
``tox -e bench`` runs without torch, and the comparison's torch cases then skip.
"""

import configparser
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# the modules that may import torch: the twins, and the benchmark and test that use them
TORCH_MODULES = {"benchmark/torch_twins.py", "benchmark/test_vs_torch.py", "tests/benchmark/test_torch_twins.py"}
IMPORTS_TORCH = re.compile(r"^\s*(import torch|from torch[ .]|torch = pytest\.importorskip)", re.MULTILINE)


def tox_extras():
    config = configparser.ConfigParser(interpolation=None)
    config.read(ROOT / "tox.ini")
    return {section: config[section].get("extras", "").split() for section in config.sections()}


def test_the_compare_extra_is_the_cpu_build_release_of_torch():
    tomllib = pytest.importorskip("tomllib")
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert extras["compare"] == ["torch==2.13.0"]
    others = {name: packages for name, packages in extras.items() if name != "compare"}
    assert not [name for name, packages in others.items() if any(p.startswith("torch") for p in packages)]


def test_the_tests_and_bench_compare_install_it_and_bench_does_not():
    extras = tox_extras()
    assert extras["testenv:bench-compare"] == ["{[testenv:bench]extras}", "compare"]
    assert "compare" not in extras["testenv:bench"]
    assert [section for section, names in extras.items() if "compare" in names] == ["testenv", "testenv:bench-compare"]


def test_no_other_module_imports_torch():
    folders = ("matrixslow", "serving", "datasets", "benchmark", "tests", "reference_checks", "examples")
    importing = {
        path.relative_to(ROOT).as_posix()
        for folder in folders
        for path in (ROOT / folder).rglob("*.py")
        if IMPORTS_TORCH.search(path.read_text())
    }
    assert importing <= TORCH_MODULES, sorted(importing - TORCH_MODULES)
    assert "benchmark/torch_twins.py" in importing, "the pattern finds the twins' own import"
