"""matrixslow serving: answer Predict calls for saved matrixslow models, like TensorFlow Serving.

Export a trained model with its signature, one directory per version::

    signature = serving.Exporter(graph).signature("x", "predict")
    ms.trainer.Saver("models/digits/1").save(graph, service_signature=signature)

serve it (``python -m matrixslow.serving --model-dir models/digits --port 8500 --http-port 8501``)
and ask it::

    serving.Client("127.0.0.1:8500").predict({"x": images})  # -> {"predict": array}

Modules, one job each: ``exporter`` (signatures), ``model_store`` (versions, hot swap),
``validation`` (request checks), ``batcher`` (dynamic batching, the one thread that runs
the graph), ``predict`` (one request's path), ``grpc_server`` / ``http_server`` (front
ends; ``grpc_calls`` what every gRPC method does around its work), ``v2_rest`` / ``v2_grpc``
(the Open Inference Protocol, KServe v2, on the same ports; ``v2_tensors`` its tensors,
``v2_models`` its metadata), ``metrics`` (Prometheus), ``server`` (wiring), ``client``,
``__main__`` (the command), ``settings`` (its choices and defaults). Exporting needs only the engine; serving and asking
need the ``serving`` extra (in the checkout: ``pip install -e ".[serving]"``), and without it
the first import that needs gRPC raises ``matrixslow.extras.MissingExtraError``, which says so.
"""

from .exporter import Exporter, read_signature

__all__ = ["Client", "Exporter", "ServingError", "read_signature"]


def __getattr__(name):
    # The client imports gRPC: only on first use, so importing this package (and `--help`) needs none.
    if name in ("Client", "ServingError"):
        from . import client

        return getattr(client, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
