"""The book's serving protocol: package ``matrixslow.serving``, service ``MatrixSlowServing`` (Predict).

``serving.proto`` is ours, written to the book's names; ``serving_pb2.py``, ``serving_pb2.pyi`` and
``serving_pb2_grpc.py`` beside it are generated and committed; never edit them by hand. Regenerate
them from the repository root with the grpcio-tools version pinned in the ``test`` extra::

    python -m grpc_tools.protoc -I . --python_out=. --pyi_out=. --grpc_python_out=. \
        matrixslow_serving/serving/proto/serving.proto

tests/book/test_ch10_serving_proto.py compares the output byte for byte.
"""

from . import serving_pb2, serving_pb2_grpc

REGENERATE_COMMAND = (
    "python -m grpc_tools.protoc -I . --python_out=. --pyi_out=. --grpc_python_out=. "
    "matrixslow_serving/serving/proto/serving.proto"
)

__all__ = ["REGENERATE_COMMAND", "serving_pb2", "serving_pb2_grpc"]
