"""The committed generated code in serving/proto/ is exactly what protoc makes from serving.proto."""

import pathlib
import shutil
import subprocess
import sys

import matrixslow.dist.proto as dist_proto
import serving.proto as proto_package

PROTO_DIR = pathlib.Path(proto_package.__file__).parent
REPO_ROOT = PROTO_DIR.parents[1]
RELATIVE_DIR = PROTO_DIR.relative_to(REPO_ROOT)
TENSOR_PROTO = pathlib.Path(dist_proto.__file__).parent / "tensor.proto"


def _generated_names(folder):
    return sorted(path.name for path in folder.glob("*_pb2*") if path.suffix in (".py", ".pyi"))


def test_generated_files_match_a_fresh_protoc_run(tmp_path):
    # Copy the sources so protoc sees the same relative paths (they are baked into the output).
    source = tmp_path / "src"
    (source / RELATIVE_DIR).mkdir(parents=True)
    assert sorted(path.name for path in PROTO_DIR.glob("*.proto")) == ["serving.proto"]
    shutil.copy(PROTO_DIR / "serving.proto", source / RELATIVE_DIR / "serving.proto")
    tensor_relative = TENSOR_PROTO.relative_to(REPO_ROOT)
    (source / tensor_relative.parent).mkdir(parents=True)
    shutil.copy(TENSOR_PROTO, source / tensor_relative)
    out = tmp_path / "out"
    out.mkdir()

    command = [sys.executable, "-m", "grpc_tools.protoc", "-I", "."]
    command += [f"--python_out={out}", f"--pyi_out={out}", f"--grpc_python_out={out}"]
    command += [str(RELATIVE_DIR / "serving.proto")]
    result = subprocess.run(command, cwd=source, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr

    fresh_dir = out / RELATIVE_DIR
    assert _generated_names(fresh_dir) == _generated_names(PROTO_DIR)
    assert _generated_names(PROTO_DIR) == ["serving_pb2.py", "serving_pb2.pyi", "serving_pb2_grpc.py"]
    for name in _generated_names(fresh_dir):
        assert (fresh_dir / name).read_bytes() == (PROTO_DIR / name).read_bytes(), (
            f"{RELATIVE_DIR / name} is stale; regenerate with: {proto_package.REGENERATE_COMMAND}"
        )


def test_the_proto_documents_the_regeneration_command():
    assert proto_package.REGENERATE_COMMAND in (PROTO_DIR / "serving.proto").read_text()
