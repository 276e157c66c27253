"""ServingApp: the model store, the batcher, the gRPC and HTTP front ends, started and stopped in order.

Start: load the newest version that loads, and as many older ones as ``keep_versions``
asks (or fail with ModelLoadError when none loads), start the batch worker,
the gRPC server, the optional HTTP server, and the version watcher.
Stop (SIGTERM): report NOT_SERVING, stop accepting, let in-flight requests finish
(their batches still run, so the batcher stops last), then stop the watcher.
"""

import logging
from dataclasses import dataclass

import numpy as np

from .batcher import Batcher
from .grpc_server import GrpcServer
from .http_server import ServingHTTPServer
from .metrics import Metrics
from .model_store import ModelStore
from .ports import PortUnavailable
from .predict import Predictor, served_model
from .tls import load_server_tls
from .validation import DEFAULT_MAX_REQUEST_BYTES

log = logging.getLogger("serving")


@dataclass
class ServingConfig:
    """Everything the command line sets (see ``python -m matrixslow.serving --help``)."""

    model_dir: str
    model_name: str = ""
    host: str = "127.0.0.1"
    port: int = 8500
    http_port: int | None = None
    max_batch_size: int = 64
    batch_timeout_ms: float = 2.0
    batch_wait: str = "adaptive"
    max_queue: int = 1024
    poll_seconds: float = 1.0
    max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES
    grace_seconds: float = 30.0
    keep_versions: int = 1
    # True: a version that fails to load at start is fatal, even when an older one would serve.
    strict_versions: bool = False
    # PEM files; both given, both front ends serve TLS only (see serving.tls).
    tls_cert: str | None = None
    tls_key: str | None = None


class ServingApp:
    """One served model.

    Parameters
    ----------
    config : ServingConfig
    """

    def __init__(self, config):
        self.config = config
        self.model_name = config.model_name
        self.metrics = Metrics()
        self.store = ModelStore(
            config.model_dir,
            config.poll_seconds,
            on_swap=lambda model: self.metrics.model_version.set(model.version),
            on_failure=lambda version: self.metrics.load_failures.inc(),
            keep_versions=config.keep_versions,
            strict=config.strict_versions,
        )
        self.batcher = None
        self.grpc = None
        self.http = None

    def start(self):
        """Load the model and start serving; raises ModelLoadError, PortUnavailable naming the port and its flag,
        or serving.tls.TLSConfigError naming the TLS flag and file."""
        config = self.config
        if config.http_port == config.port != 0:
            raise PortUnavailable(
                f"--port and --http-port are both {config.port}; the gRPC and the HTTP server need a port each"
            )
        tls = load_server_tls(config.tls_cert, config.tls_key)  # before the model: a bad file fails at once
        self.store.load_initial()
        self.batcher = Batcher(
            self.store,
            config.max_batch_size,
            config.batch_timeout_ms / 1000.0,
            config.max_queue,
            self.metrics,
            config.batch_wait,
        )
        predictor = Predictor(self.model_name, self.store, self.batcher, self.metrics, config.max_request_bytes)
        if config.http_port is not None:
            # JSON spells a float64 in up to ~25 characters where the wire format needs 8 bytes.
            max_body = 4 * config.max_request_bytes
            self.http = ServingHTTPServer(
                (config.host, config.http_port),
                predictor,
                self.status,
                self.metrics,
                max_body,
                "--http-port",
                ssl_context=None if tls is None else tls.context,
            )
        try:
            self.grpc = GrpcServer(
                predictor,
                self.status,
                config.host,
                config.port,
                config.max_request_bytes,
                config.max_queue,
                "--port",
                credentials=None if tls is None else tls.grpc_credentials(),
            )
        except BaseException:
            if self.http is not None:
                self.http.server_close()  # bound but never served: free its port
                self.http = None
            raise
        self.batcher.start()
        self.grpc.start()
        if self.http is not None:
            self.http.start()
        self.store.start_watching()
        model = self.store.current
        log.info(
            "serving model %r version %d%s from %s: gRPC on %s:%d%s%s",
            self.model_name,
            model.version,
            "" if config.keep_versions == 1 else f" (loaded: {', '.join(map(str, self.store.loaded_versions()))})",
            config.model_dir,
            config.host,
            self.grpc.port,
            "" if self.http is None else f", HTTP{'S' if tls else ''} on {config.host}:{self.http.server_address[1]}",
            "" if tls is None else " (TLS only)",
        )

    def stop(self):
        """Graceful stop: no new requests, finish the ones in flight, then end every thread."""
        if self.http is not None:
            self.http.stop_accepting()
        self.grpc.stop(self.config.grace_seconds)
        if self.http is not None:
            self.http.finish()
        self.batcher.stop()  # last: the requests in flight above still need their batches computed
        self.store.stop()

    def status(self, version=None):
        """The newest served version (or ``version``), versions on disk, loaded and failed, the version's signature
        specs and the counters, as a dict ready for JSON; ModelNotFound for a version not loaded."""
        model = served_model(self.store, self.model_name, version)
        dtype = np.dtype(model.dtype).name
        return {
            "model_name": self.model_name,
            "version": model.version,
            "available_versions": self.store.available_versions(),
            "loaded_versions": self.store.loaded_versions(),
            "failed_versions": self.store.failed_versions(),
            "inputs": [{"name": name, "dim": list(node.dim), "dtype": dtype} for name, node in model.inputs.items()],
            "outputs": [{"name": name, "dim": list(model.output_dims[name]), "dtype": dtype} for name in model.outputs],
            "last_load_error": self.store.last_load_error,
            "counters": {**self.metrics.counters(), "queue_depth": self.batcher.queue_depth()},
        }
