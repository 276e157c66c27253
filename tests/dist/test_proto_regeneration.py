"""The committed generated code in matrixslow/dist/proto/ is exactly what protoc makes from the .proto files."""

import pathlib
import shutil
import subprocess
import sys

import matrixslow.dist.proto as proto_package

PROTO_DIR = pathlib.Path(proto_package.__file__).parent
REPO_ROOT = PROTO_DIR.parents[2]
RELATIVE_DIR = PROTO_DIR.relative_to(REPO_ROOT)


def _generated_names(folder):
    return sorted(path.name for path in folder.glob("*_pb2*") if path.suffix in (".py", ".pyi"))


def test_generated_files_match_a_fresh_protoc_run(tmp_path):
    # Copy the sources so protoc sees the same relative paths (they are baked into the output).
    source_copy = tmp_path / "src" / RELATIVE_DIR
    source_copy.mkdir(parents=True)
    protos = sorted(PROTO_DIR.glob("*.proto"))
    assert [path.name for path in protos] == ["allreduce.proto", "parameter_server.proto", "tensor.proto"]
    for path in protos:
        shutil.copy(path, source_copy / path.name)
    out = tmp_path / "out"
    out.mkdir()

    command = [sys.executable, "-m", "grpc_tools.protoc", "-I", "."]
    command += [f"--python_out={out}", f"--pyi_out={out}", f"--grpc_python_out={out}"]
    command += [str(RELATIVE_DIR / path.name) for path in protos]
    result = subprocess.run(command, cwd=tmp_path / "src", capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr

    fresh_dir = out / RELATIVE_DIR
    assert _generated_names(fresh_dir) == _generated_names(PROTO_DIR)
    assert len(_generated_names(PROTO_DIR)) == 9
    for name in _generated_names(fresh_dir):
        assert (fresh_dir / name).read_bytes() == (PROTO_DIR / name).read_bytes(), (
            f"{RELATIVE_DIR / name} is stale; regenerate with: {proto_package.REGENERATE_COMMAND}"
        )


def test_every_proto_documents_the_regeneration_command():
    for path in PROTO_DIR.glob("*.proto"):
        assert proto_package.REGENERATE_COMMAND in path.read_text(), path.name
