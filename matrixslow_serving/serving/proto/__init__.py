"""The book's serving protocol: package ``matrixslow.serving``, service ``MatrixSlowServing`` (Predict).

``serving.proto`` is ours, written to the book's names; ``serving_pb2.py``, ``serving_pb2.pyi`` and
``serving_pb2_grpc.py`` beside it are generated and committed; never edit them by hand.
Regenerate them from the repository root with ``python -m tests.protos`` (the grpcio-tools version
pinned in the ``test`` extra); tests/test_proto_regeneration.py compares the output byte for byte.
"""

from . import serving_pb2, serving_pb2_grpc

__all__ = ["serving_pb2", "serving_pb2_grpc"]
