"""The book's serving names (chapter 10), as thin aliases of ``matrixslow.serving``.

The book's programs import::

    import matrixslow_serving as mss
    from matrixslow_serving.exporter import Exporter
    from matrixslow_serving.serving import serving_pb2, serving_pb2_grpc

    mss.serving.MatrixSlowServer(host, root_dir, model_file_name, weights_file_name).serve()

``exporter.Exporter`` is ``serving.Exporter``. ``serving`` holds ``MatrixSlowServer`` (the book's
server over ``serving``'s store, batcher and gRPC front end), the book's wire protocol
(``serving_pb2``, ``serving_pb2_grpc``: service ``matrixslow.serving.MatrixSlowServing``) and the
adapter answering it. Needs the ``serving`` extra (``pip install -e ".[serving]"`` in the checkout).
"""

from matrixslow.extras import needs_extra

with needs_extra("serving", __name__):
    from . import exporter, serving
    from .exporter import Exporter

__all__ = ["Exporter", "exporter", "serving"]
