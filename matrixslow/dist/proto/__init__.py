"""Protocol Buffers messages and gRPC services of matrixslow.dist.

``allreduce.proto`` (service RingAllReduce) and ``parameter_server.proto`` (service ParameterService).
The ``*_pb2.py``, ``*_pb2.pyi`` and
``*_pb2_grpc.py`` files beside them are generated and committed; never edit them by hand.
Regenerate them from the repository root with ``python -m tests.protos`` (the grpcio-tools version
pinned in the ``test`` extra); tests/test_proto_regeneration.py compares the output byte for byte.
"""

from ...extras import require_extra

# The generated modules import protobuf and grpc: say which extra installs them before they fail.
require_extra("dist", __name__)
