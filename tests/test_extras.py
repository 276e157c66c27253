"""The optional extras: with only ``pip install -e .``, each feature that needs one says which, and how to install it.

The subprocess tests run Python with a ``sitecustomize`` that makes the extras' packages
unimportable, as on a fresh clone installed without extras.
"""

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from matrixslow.extras import EXTRAS, MissingExtraError, install_hint, needs_extra, require_extra

ROOT = Path(__file__).resolve().parents[1]
BLOCKED = ("grpc", "grpc_health", "google.protobuf", "mpi4py", "prometheus_client")
BLOCKER = f"""
import sys

BLOCKED = {BLOCKED!r}


class NotInstalled:
    \"\"\"A meta-path finder that answers every import of a blocked package as pip would leave it: missing.\"\"\"

    def find_spec(self, name, path=None, target=None):
        if any(name == blocked or name.startswith(blocked + ".") for blocked in BLOCKED):
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None


sys.meta_path.insert(0, NotInstalled())
"""


@pytest.fixture(scope="module")
def without_extras(tmp_path_factory):
    """``run(*args)``: ``python *args`` from the repository root, with no extra's package importable."""
    site = tmp_path_factory.mktemp("without_extras")
    (site / "sitecustomize.py").write_text(BLOCKER)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(ROOT)])}

    def run(*args):
        return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)

    return run


# --- the hint --------------------------------------------------------------------------------------


def test_the_hint_installs_from_the_checkout_not_from_an_index():
    assert install_hint("serving") == 'pip install -e ".[serving]"'
    assert install_hint("dist", "mpi") == 'pip install -e ".[dist,mpi]"'


def test_an_unknown_extra_is_refused_with_the_known_ones():
    with pytest.raises(ValueError, match=r"unknown extra 'grpc'; the extras are \['data', 'dist'"):
        install_hint("grpc")


def test_each_extra_lists_packages_that_pyproject_installs_with_it():
    tomllib = pytest.importorskip("tomllib")
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    for extra, packages in EXTRAS.items():
        names = {re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0] for requirement in declared[extra]}
        assert set(packages.values()) <= names, (extra, names)


def test_no_install_hint_names_a_package_index_we_are_not_on():
    index_hint = re.compile(r"""pip install\s+['"]?matrixslow\[""")
    for folder in ("matrixslow", "serving", "matrixslow_serving", "datasets", "examples"):
        for path in (ROOT / folder).rglob("*.py"):
            for number, line in enumerate(path.read_text().splitlines(), 1):
                assert not index_hint.search(line), f"{path.relative_to(ROOT)}:{number}: {line.strip()}"


# --- needs_extra -----------------------------------------------------------------------------------


def test_a_missing_package_of_the_extra_becomes_one_clear_error():
    with pytest.raises(MissingExtraError) as raised, needs_extra("dist", "the ring"):
        raise ModuleNotFoundError("No module named 'grpc'", name="grpc")
    error = raised.value
    assert str(error) == (
        "the ring needs the package 'grpcio', from the optional 'dist' extra (No module named 'grpc'); "
        'install it from the matrixslow checkout with: pip install -e ".[dist]"'
    )
    assert isinstance(error, ImportError) and error.name == "grpc" and error.extra == "dist"
    assert error.__cause__ is None and error.__suppress_context__  # the traceback ends at the clear line


def test_a_package_missing_from_a_namespace_counts_as_that_package():
    with pytest.raises(MissingExtraError, match="needs the package 'protobuf'"), needs_extra("dist", "the ring"):
        raise ModuleNotFoundError("No module named 'google'", name="google")


def test_an_installed_but_broken_package_keeps_its_traceback():
    broken = ImportError("cannot import name 'aio' from 'grpc'", name="grpc")
    with pytest.raises(MissingExtraError, match="cannot import name 'aio'") as raised, needs_extra("dist", "x"):
        raise broken
    assert raised.value.__cause__ is broken


@pytest.mark.parametrize("name", ["matrixslow.nowhere", "pandas", None])
def test_any_other_import_error_passes_through_unchanged(name):
    original = ModuleNotFoundError(f"No module named {name!r}", name=name)
    with pytest.raises(ModuleNotFoundError) as raised, needs_extra("dist", "the ring"):
        raise original
    assert raised.value is original


def test_nested_blocks_name_the_outer_feature_and_extra():
    outer, inner = needs_extra("serving", "python -m matrixslow.serving"), needs_extra("dist", "matrixslow.dist.proto")
    with pytest.raises(MissingExtraError) as raised, outer, inner:
        raise ModuleNotFoundError("No module named 'grpc'", name="grpc")
    assert str(raised.value).startswith(
        "python -m matrixslow.serving needs the package 'grpcio', from the optional 'serving'"
    )
    assert install_hint("serving") in str(raised.value)


def test_require_extra_imports_every_package_of_an_installed_extra():
    require_extra("dist", "this test")  # the test environment has it: no error
    assert "grpc" in sys.modules and "google.protobuf" in sys.modules


# --- without the extras, in a fresh process ---------------------------------------------------------


@pytest.mark.parametrize(
    "statement, feature, extra, package",
    [
        ("import matrixslow.dist.trainers", "matrixslow.dist.allreduce", "dist", "grpcio"),
        ("import matrixslow.dist.allreduce", "matrixslow.dist.allreduce", "dist", "grpcio"),
        ("import matrixslow.dist.ps", "matrixslow.dist.ps", "dist", "grpcio"),
        ("import matrixslow.codec.tensors", "matrixslow.codec.proto", "dist", "grpcio"),
        ("import matrixslow.codec.wire", "matrixslow.codec.wire", "dist", "protobuf"),
        ("from matrixslow import serving; serving.Client", "matrixslow.serving.client", "serving", "grpcio"),
        ("from matrixslow.serving import Client", "matrixslow.serving.client", "serving", "grpcio"),
        ("import matrixslow.serving.server", "matrixslow.serving.errors", "serving", "grpcio"),
        ("import matrixslow.serving.metrics", "matrixslow.serving.metrics", "serving", "prometheus-client"),
        ("import matrixslow.serving.proto.serving_pb2", "matrixslow.serving.proto", "serving", "grpcio"),
        ("import matrixslow_serving", "matrixslow_serving", "serving", "grpcio"),
    ],
)
def test_the_first_import_that_needs_an_extra_names_it(without_extras, statement, feature, extra, package):
    result = without_extras("-c", statement)
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"matrixslow.extras.MissingExtraError: {feature} needs the package {package!r}"), last
    assert f"from the optional {extra!r} extra (No module named " in last, last
    assert last.endswith(install_hint(extra)), last


def test_the_mpi_backend_names_its_extra(without_extras):
    script = textwrap.dedent(
        """
        import sys
        sys.meta_path.pop(0)  # grpc is installed here; only mpi4py is missing
        sys.modules["mpi4py"] = None
        from matrixslow.dist.allreduce import MpiAllReduce
        MpiAllReduce()
        """
    )
    last = without_extras("-c", script).stderr.strip().splitlines()[-1]
    assert "MpiAllReduce (the MPI allreduce backend) needs the package 'mpi4py', from the optional 'mpi'" in last
    assert last.endswith(install_hint("mpi"))


@pytest.mark.parametrize(
    "statement",
    [
        "import matrixslow.dist, matrixslow.dist.launch, matrixslow.dist.cluster, matrixslow.dist.checkpoint",
        "from matrixslow import serving; serving.Exporter, serving.read_signature",  # exporting needs only the engine
        "import matrixslow.datasets, matrixslow.viz",
    ],
)
def test_what_needs_no_extra_imports_without_them(without_extras, statement):
    result = without_extras("-c", statement)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    "module, flag", [("matrixslow.serving", "--model-dir"), ("matrixslow.dist.launch", "--workers")]
)
def test_help_works_without_the_extra(without_extras, module, flag):
    result = without_extras("-m", module, "--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage:") and flag in result.stdout


def test_the_server_says_in_one_line_what_to_install(without_extras, tmp_path):
    result = without_extras("-m", "matrixslow.serving", "--model-dir", str(tmp_path))
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "matrixslow-serving: cannot start: python -m matrixslow.serving needs the package 'grpcio', "
        "from the optional 'serving' extra (No module named 'grpc'); "
        f"install it from the matrixslow checkout with: {install_hint('serving')}"
    )


def test_the_launcher_says_in_one_line_what_to_install_and_starts_no_worker(without_extras, tmp_path):
    script = tmp_path / "train.py"
    script.write_text("print('worker ran')\n")
    result = without_extras("-m", "matrixslow.dist.launch", "--mode", "allreduce", "--workers", "2", str(script))
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "error: python -m matrixslow.dist.launch needs the package 'grpcio', from the optional 'dist' extra "
        f"(No module named 'grpc'); install it from the matrixslow checkout with: {install_hint('dist')}"
    )
    assert "worker" not in result.stdout
