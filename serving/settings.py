"""The choices and defaults the command line offers, in a module that imports no optional package.

``python -m matrixslow.serving --help`` builds its parser from these before anything imports gRPC, so
the help works before the ``serving`` extra is installed.
"""

# How the batcher decides it has waited long enough for a batch (see batcher.Batcher).
BATCH_WAITS = ("adaptive", "always")

# Requests above this many bytes of input values are refused (a flag of the server);
# 128 MiB lets the 64 MB tensors the issue asks for through.
DEFAULT_MAX_REQUEST_BYTES = 128 * 2**20
