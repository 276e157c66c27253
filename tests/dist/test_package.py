"""matrixslow.dist is optional: the engine never imports it, so gRPC is not needed to train locally."""

import subprocess
import sys


def test_importing_matrixslow_loads_neither_dist_nor_grpc():
    probe = (
        "import sys, matrixslow\n"
        "loaded = sorted(m for m in sys.modules if m.startswith(('matrixslow.dist', 'grpc', 'google.protobuf')))\n"
        "print(loaded)\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
