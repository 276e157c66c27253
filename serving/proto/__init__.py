"""Protocol Buffers messages and the gRPC service of matrixslow serving.

``serving.proto`` (service ModelService: Predict, ModelStatus) reuses ``Tensor`` from
``matrixslow/dist/proto/tensor.proto``. The ``serving_pb2.py``, ``serving_pb2.pyi`` and
``serving_pb2_grpc.py`` files beside it are generated and committed; never edit them by hand.
Regenerate them from the repository root with::

    python -m grpc_tools.protoc -I . --python_out=. --pyi_out=. --grpc_python_out=. serving/proto/serving.proto

Use the grpcio-tools version pinned in the ``test`` extra: tests/serving/test_proto_regeneration.py
compares the output byte for byte.
"""

from matrixslow.extras import require_extra

# The generated modules import protobuf and grpc: say which extra installs them before they fail.
require_extra("serving", __name__)

REGENERATE_COMMAND = (
    "python -m grpc_tools.protoc -I . --python_out=. --pyi_out=. --grpc_python_out=. serving/proto/serving.proto"
)
