"""Protocol Buffers messages and the gRPC service of matrixslow serving.

``serving.proto`` (service ModelService: Predict, ModelStatus) reuses ``Tensor`` from
``matrixslow/codec/proto/tensor.proto``. The ``serving_pb2.py``, ``serving_pb2.pyi`` and
``serving_pb2_grpc.py`` files beside it are generated and committed; never edit them by hand.
Regenerate them from the repository root with ``python -m tests.protos`` (the grpcio-tools version
pinned in the ``test`` extra); tests/test_proto_regeneration.py compares the output byte for byte.
"""

from matrixslow.extras import require_extra

# The generated modules import protobuf and grpc: say which extra installs them before they fail.
require_extra("serving", __name__)
