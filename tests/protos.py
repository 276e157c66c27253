"""Every folder of committed protoc output, and how to regenerate it: ``python -m tests.protos``.

Run it from the repository root with the grpcio-tools version pinned in the ``test`` extra;
tests/test_proto_regeneration.py checks that the committed files equal a fresh run byte for byte.

protoc bakes each file's path into the generated imports (``serving/proto/serving.proto``
becomes ``import serving.proto.serving_pb2``), so every file is compiled under the dotted name
it is installed as: serving/ sits at the top of the repository but installs as
``matrixslow.serving``, hence the mapped include ``-Imatrixslow/serving=serving``. protoc then
writes under that name, so the output goes to a scratch folder and is copied home.
"""

import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
GENERATED_SUFFIXES = ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py")


@dataclass(frozen=True)
class ProtoFolder:
    installed_as: str  # the package the generated modules import each other by
    folder: str  # where the .proto files and the committed output sit, from the repository root
    services: bool = True  # whether to generate *_pb2_grpc.py (service stubs)

    @property
    def virtual_folder(self):
        return self.installed_as.replace(".", "/")

    def protos(self):
        return sorted(path.name for path in (REPO_ROOT / self.folder).glob("*.proto"))

    def committed(self):
        return sorted(
            path.name for path in (REPO_ROOT / self.folder).iterdir() if path.name.endswith(GENERATED_SUFFIXES)
        )

    def protoc_command(self, out):
        command = [sys.executable, "-m", "grpc_tools.protoc"]
        # The mapped include first, so a file is named by its installed path, not its checkout path.
        command += [f"-I{self.virtual_folder}={self.folder}", "-I", "."]
        outputs = ("python", "pyi", "grpc_python") if self.services else ("python", "pyi")
        command += [f"--{kind}_out={out}" for kind in outputs]
        return command + [f"{self.virtual_folder}/{name}" for name in self.protos()]


FOLDERS = (
    ProtoFolder("matrixslow.codec.proto", "matrixslow/codec/proto", services=False),
    ProtoFolder("matrixslow.dist.proto", "matrixslow/dist/proto"),
    ProtoFolder("matrixslow.serving.proto", "serving/proto"),
    # The v2 protocol's messages only: its service is served by a generic handler (serving/v2_grpc.py).
    ProtoFolder("matrixslow.serving.proto.v2", "serving/proto/v2", services=False),
    ProtoFolder("matrixslow_serving.serving.proto", "matrixslow_serving/serving/proto"),
)


def generate(folder, out):
    """Run protoc for ``folder`` into ``out``; return the folder of ``out`` holding its files."""
    result = subprocess.run(folder.protoc_command(out), cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise RuntimeError(f"protoc failed on {folder.folder}: {result.stderr.strip()}")
    return Path(out) / folder.virtual_folder


def regenerate_all():
    for folder in FOLDERS:
        with tempfile.TemporaryDirectory() as out:
            fresh = generate(folder, out)
            for path in (REPO_ROOT / folder.folder).iterdir():
                if path.name.endswith(GENERATED_SUFFIXES):
                    path.unlink()
            for path in fresh.iterdir():
                shutil.copy(path, REPO_ROOT / folder.folder / path.name)
        print(f"regenerated {folder.folder}: {', '.join(folder.committed())}")


if __name__ == "__main__":
    regenerate_all()
