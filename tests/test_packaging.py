"""The wheel installs only ``matrixslow*`` names, so it sits beside another package's top-level ``datasets``.

The wheel is built from a copy of the sources (no build/ left in the checkout) and installed with
no index into a fresh virtual environment, next to a stand-in for Hugging Face's ``datasets``
(the real one is not downloaded: tests never use the network). The fresh environment borrows this
one's third-party packages (NumPy, gRPC...) through a ``.pth`` line, which adds their folder to
``sys.path`` without running this environment's own ``.pth`` hooks such as the editable finder.
"""

import shutil
import subprocess
import sys
import sysconfig
import textwrap
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ("pyproject.toml", "setup.py", "README.md", "matrixslow", "matrixslow_serving", "serving", "datasets")


def _run(command, cwd, timeout=300):
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{' '.join(map(str, command))}:\n{result.stdout}\n{result.stderr}"
    return result


def _build_wheel(source, out):
    # --no-build-isolation: build with this environment's setuptools instead of downloading one.
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", out, source], source)
    (wheel,) = Path(out).glob("*.whl")
    return wheel


def _stand_in_datasets(folder):
    """A source tree of another distribution that owns the top-level package ``datasets``."""
    (folder / "datasets").mkdir(parents=True)
    (folder / "datasets" / "__init__.py").write_text('OWNER = "someone else"\n')
    (folder / "pyproject.toml").write_text(
        textwrap.dedent(
            """
            [build-system]
            requires = ["setuptools>=68"]
            build-backend = "setuptools.build_meta"

            [project]
            name = "other-datasets"
            version = "1.0"

            [tool.setuptools]
            packages = ["datasets"]
            """
        )
    )
    return folder


@pytest.fixture(scope="module")
def wheels(tmp_path_factory):
    source = tmp_path_factory.mktemp("source")
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    for name in SOURCES:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, source / name, ignore=ignore)
        else:
            shutil.copy(path, source / name)
    other = _stand_in_datasets(tmp_path_factory.mktemp("other") / "src")
    return _build_wheel(source, tmp_path_factory.mktemp("ours")), _build_wheel(other, tmp_path_factory.mktemp("theirs"))


@pytest.fixture(scope="module")
def fresh_env(wheels, tmp_path_factory):
    """A new virtual environment holding both wheels; returns its python."""
    home = tmp_path_factory.mktemp("env")
    venv.create(home, with_pip=False)
    python = home / "bin" / "python"
    site = Path(_run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], home).stdout.strip())
    _run([sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-deps", "--no-index", *wheels], home)
    # Only after installing: pip would take the borrowed folder's editable matrixslow for this wheel, installed.
    (site / "borrowed.pth").write_text(sysconfig.get_path("purelib") + "\n")
    installed = sorted(path.name for path in site.glob("*.dist-info"))
    assert [name.split("-")[0] for name in installed] == ["matrixslow", "other_datasets"], installed
    return python


def test_the_wheel_installs_nothing_outside_the_matrixslow_names(wheels):
    ours, _ = wheels
    with zipfile.ZipFile(ours) as wheel:
        tops = {name.split("/")[0] for name in wheel.namelist()}
        names = set(wheel.namelist())
    packages = {top for top in tops if not top.endswith((".dist-info", ".data"))}
    assert packages == {"matrixslow", "matrixslow_serving"}
    for folder in ("serving", "datasets"):
        assert f"matrixslow/{folder}/__init__.py" in names
    # The generated protobuf modules travel with their definitions and stubs.
    assert {"matrixslow/serving/proto/serving_pb2.py", "matrixslow/serving/proto/serving.proto"} <= names
    assert "matrixslow/codec/proto/tensor_pb2.pyi" in names


def test_both_datasets_packages_import_side_by_side(fresh_env, tmp_path):
    script = textwrap.dedent(
        """
        import datasets
        import matrixslow.datasets
        from matrixslow import serving
        import matrixslow_serving
        from matrixslow.codec.tensors import from_proto, to_proto
        import numpy as np

        assert datasets.OWNER == "someone else", datasets.__file__
        assert "site-packages" in matrixslow.datasets.__file__, matrixslow.datasets.__file__
        assert matrixslow.datasets.load_sine_square is not None
        assert serving.Exporter is matrixslow_serving.Exporter
        array = np.arange(6.0).reshape(2, 3)
        np.testing.assert_array_equal(from_proto(to_proto(array)), array)
        print("ok")
        """
    )
    # From a folder outside the checkout, so nothing there shadows the installed packages.
    assert _run([fresh_env, "-c", script], tmp_path).stdout.strip() == "ok"


@pytest.mark.parametrize("script, flag", [("matrixslow-serving", "--model-dir"), ("matrixslow-launch", "--workers")])
def test_the_console_scripts_run(fresh_env, tmp_path, script, flag):
    result = _run([fresh_env.parent / script, "--help"], tmp_path)
    assert result.stdout.startswith("usage:") and flag in result.stdout


def test_a_checkout_still_runs_python_m_serving(tmp_path):
    # The top-level folders keep their checkout commands (serving/ imports its own modules relatively).
    result = _run([sys.executable, "-m", "serving", "--help"], ROOT)
    assert result.stdout.startswith("usage: matrixslow-serving")
