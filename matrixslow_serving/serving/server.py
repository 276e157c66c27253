"""``MatrixSlowServer``: the book's server call, one port answering the book's clients and ours.

As in the book (chapter 10)::

    server = mss.serving.MatrixSlowServer(host="127.0.0.1:5000", root_dir="./epoches10",
                                          model_file_name="my_model.json", weights_file_name="my_weights.npz")
    server.serve()  # blocks; Ctrl-C stops it

The port serves the book's ``matrixslow.serving.MatrixSlowServing`` (``book_predict``), our
``serving.ModelService`` (``serving.Client``) and grpc.health.v1, over ``serving``'s model store,
batcher and gRPC front end: the same checks, batching and errors as ``python -m matrixslow.serving``.
"""

import threading

from grpc_health.v1 import health_pb2

from matrixslow.serving.batcher import Batcher
from matrixslow.serving.grpc_server import GrpcServer
from matrixslow.serving.predict import Predictor
from matrixslow.serving.server import ServingApp, ServingConfig

from .book_predict import SERVICE_NAME, MatrixSlowServingServicer
from .model_files import BookModelStore


class BookGrpcServer(GrpcServer):
    """``serving``'s gRPC front end with the book's MatrixSlowServing added on the same port."""

    async def _create(self, servicer, options, max_rpcs):
        server, port = await super()._create(servicer, options, max_rpcs)
        server.add_generic_rpc_handlers((MatrixSlowServingServicer(servicer).handler(),))
        return server, port

    async def _start(self):
        await super()._start()
        await self.health.set(SERVICE_NAME, health_pb2.HealthCheckResponse.SERVING)


def split_host(host):
    """("127.0.0.1", 5000) from the book's "127.0.0.1:5000"; port 0 picks a free one."""
    name, colon, port = str(host).rpartition(":")
    if not colon or not name or not port.isdigit():
        raise ValueError(f"MatrixSlowServer: host must be 'host:port' such as '127.0.0.1:5000', got {host!r}")
    return name, int(port)


class MatrixSlowServer(ServingApp):
    """Serve the model saved as ``root_dir/model_file_name`` and ``root_dir/weights_file_name``.

    Parameters
    ----------
    host : str
        ``"host:port"`` to listen on; port 0 picks a free one (read ``address`` after ``start``).
    root_dir, model_file_name, weights_file_name : str
        Where ``ms.trainer.Saver(root_dir).save(model_file_name=..., weights_file_name=...,
        service_signature=...)`` wrote the model; loaded here, so a bad model fails at once.
    max_workers : int, default 10
        The book's thread-pool size. Accepted for the book's call: this server answers every
        request on one event loop and one batch thread, so it needs no thread per request.
    grace_seconds : float, default 5
        How long ``stop`` lets requests in flight finish.

    Raises
    ------
    serving.errors.ModelLoadError
        Naming the files, when the model cannot be served.
    """

    def __init__(self, host, root_dir, model_file_name, weights_file_name, max_workers=10, grace_seconds=5.0):
        if isinstance(max_workers, bool) or not isinstance(max_workers, int) or max_workers < 1:
            raise ValueError(f"MatrixSlowServer: max_workers must be a positive int, got {max_workers!r}")
        hostname, port = split_host(host)
        super().__init__(ServingConfig(model_dir=str(root_dir), host=hostname, port=port, grace_seconds=grace_seconds))
        self.host = host
        self.max_workers = max_workers
        self.store = BookModelStore(
            root_dir, model_file_name, weights_file_name, on_swap=lambda model: self.metrics.model_version.set(1)
        )
        self.store.load_initial()
        self.address = None
        self._stopped = threading.Event()
        self._stop_lock = threading.Lock()

    def start(self):
        """Start answering without blocking; returns the ``host:port`` actually bound."""
        if self._stopped.is_set():
            raise RuntimeError(f"MatrixSlowServer on {self.host} was stopped; make a new one to serve again")
        config = self.config
        self.batcher = Batcher(
            self.store, config.max_batch_size, config.batch_timeout_ms / 1000.0, config.max_queue, self.metrics
        )
        predictor = Predictor(self.model_name, self.store, self.batcher, self.metrics, config.max_request_bytes)
        self.grpc = BookGrpcServer(
            predictor, self.status, config.host, config.port, config.max_request_bytes, config.max_queue
        )
        self.batcher.start()
        self.grpc.start()
        self.address = f"{config.host}:{self.grpc.port}"
        return self.address

    def serve(self):
        """Start, print the book's line, and block until ``stop()`` (from another thread) or Ctrl-C."""
        self.start()
        print(f"MatrixSlow server running on {self.address}", flush=True)
        try:
            self._stopped.wait()
        except KeyboardInterrupt:
            self.stop()

    def stop(self):
        """Finish the requests in flight (up to ``grace_seconds``) and stop; safe to call twice."""
        with self._stop_lock:
            if self._stopped.is_set():
                return
            if self.grpc is not None:
                super().stop()
            self._stopped.set()
