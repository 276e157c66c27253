"""The ``Tensor`` message (``tensor.proto``), which the serving and book protocols embed.

``tensor_pb2.py`` and ``tensor_pb2.pyi`` are generated and committed; never edit them by hand.
Regenerate them from the repository root with ``python -m tests.protos`` (the grpcio-tools version
pinned in the ``test`` extra); tests/test_proto_regeneration.py compares the output byte for byte.
"""

from ...extras import require_extra

# The generated module imports protobuf: say which extra installs it before it fails.
require_extra("dist", __name__)
