"""The book's ``matrixslow_serving.serving``: ``MatrixSlowServer`` and the book's protocol modules.

``serving_pb2`` / ``serving_pb2_grpc`` are the generated code of ``proto/serving.proto``
(``MatrixSlowServingStub``, ``PredictReq``, ``PredictResp``, ``Matrix``), importable from here as
the book's client does. ``server`` is the server, ``book_predict`` the adapter from the book's
Predict to ``serving``'s, ``model_files`` the book's one-directory model layout.
"""

from .book_predict import MatrixSlowServingServicer
from .proto import serving_pb2, serving_pb2_grpc
from .server import MatrixSlowServer

__all__ = ["MatrixSlowServer", "MatrixSlowServingServicer", "serving_pb2", "serving_pb2_grpc"]
