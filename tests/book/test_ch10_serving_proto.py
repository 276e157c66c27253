"""The committed generated code of the book's serving protocol is exactly what protoc makes from its .proto."""

import pathlib
import shutil
import subprocess
import sys

import matrixslow_serving.serving.proto as proto_package

PROTO_DIR = pathlib.Path(proto_package.__file__).parent
REPO_ROOT = PROTO_DIR.parents[2]
RELATIVE_DIR = PROTO_DIR.relative_to(REPO_ROOT)
GENERATED = ["serving_pb2.py", "serving_pb2.pyi", "serving_pb2_grpc.py"]


def _generated_names(folder):
    return sorted(path.name for path in folder.glob("*_pb2*") if path.suffix in (".py", ".pyi"))


def test_generated_files_match_a_fresh_protoc_run(tmp_path):
    # Copy the source so protoc sees the same relative path (it is baked into the output).
    source = tmp_path / "src" / RELATIVE_DIR
    source.mkdir(parents=True)
    assert sorted(path.name for path in PROTO_DIR.glob("*.proto")) == ["serving.proto"]
    shutil.copy(PROTO_DIR / "serving.proto", source / "serving.proto")
    out = tmp_path / "out"
    out.mkdir()

    command = [sys.executable, "-m", "grpc_tools.protoc", "-I", "."]
    command += [f"--python_out={out}", f"--pyi_out={out}", f"--grpc_python_out={out}"]
    command += [str(RELATIVE_DIR / "serving.proto")]
    result = subprocess.run(command, cwd=tmp_path / "src", capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr

    fresh_dir = out / RELATIVE_DIR
    assert _generated_names(fresh_dir) == _generated_names(PROTO_DIR) == GENERATED
    for name in GENERATED:
        assert (fresh_dir / name).read_bytes() == (PROTO_DIR / name).read_bytes(), (
            f"{RELATIVE_DIR / name} is stale; regenerate with: {proto_package.REGENERATE_COMMAND}"
        )


def test_the_proto_documents_the_regeneration_command():
    text = (PROTO_DIR / "serving.proto").read_text()
    assert proto_package.REGENERATE_COMMAND in text
    assert pathlib.Path(__file__).relative_to(REPO_ROOT).as_posix() in text


def test_the_proto_has_the_book_s_names():
    """What the book's client.py and the original's serving.proto spell: package, service, messages, fields."""
    descriptor = proto_package.serving_pb2.DESCRIPTOR
    assert descriptor.package == "matrixslow.serving"
    service = descriptor.services_by_name["MatrixSlowServing"]
    predict = service.methods_by_name["Predict"]
    assert [method.name for method in service.methods] == ["Predict"]
    assert (predict.input_type.name, predict.output_type.name) == ("PredictReq", "PredictResp")
    fields = {
        name: [(field.name, field.number, field.type, field.is_repeated) for field in message.fields]
        for name, message in descriptor.message_types_by_name.items()
    }
    field = descriptor.message_types_by_name["Matrix"].fields[0]
    float_, int32, message = field.TYPE_FLOAT, field.TYPE_INT32, field.TYPE_MESSAGE
    assert fields == {
        "Matrix": [("value", 1, float_, True), ("dim", 2, int32, True)],
        "PredictReq": [("data", 1, message, True)],
        "PredictResp": [("data", 1, message, True)],
    }
