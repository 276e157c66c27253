"""Protocol Buffers messages and gRPC services of matrixslow.dist.

``tensor.proto`` (Tensor, NamedTensor), ``allreduce.proto`` (service RingAllReduce) and
``parameter_server.proto`` (service ParameterService). The ``*_pb2.py``, ``*_pb2.pyi`` and
``*_pb2_grpc.py`` files beside them are generated and committed; never edit them by hand.
Regenerate them from the repository root with::

    python -m grpc_tools.protoc -I . --python_out=. --pyi_out=. --grpc_python_out=. matrixslow/dist/proto/*.proto

Running from the root with ``-I .`` is what makes the generated imports read
``from matrixslow.dist.proto import tensor_pb2``. Use the grpcio-tools version pinned in the
``test`` extra: tests/dist/test_proto_regeneration.py compares the output byte for byte.
"""

from ...extras import require_extra

# The generated modules import protobuf and grpc: say which extra installs them before they fail.
require_extra("dist", __name__)

REGENERATE_COMMAND = (
    "python -m grpc_tools.protoc -I . --python_out=. --pyi_out=. --grpc_python_out=. matrixslow/dist/proto/*.proto"
)
