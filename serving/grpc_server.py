"""The gRPC front end: ModelService (Predict, ModelStatus) and the standard grpc.health.v1 service.

Tensors travel as ``matrixslow.dist.Tensor`` (dtype, shape, raw little-endian bytes),
packed and unpacked with ``matrixslow.dist.tensors``. Every failure becomes one status
code (see ``serving.errors``) with a message naming the input and the shape it takes;
the servicer never lets an exception escape, so one bad request never affects another.
"""

import time
from concurrent import futures

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from matrixslow.dist.tensors import bind, from_proto, server_options, to_proto

from .errors import InvalidRequest, RequestError
from .proto import serving_pb2, serving_pb2_grpc

SERVICE_NAME = "serving.ModelService"

# time_remaining() above this means the client set no deadline.
NO_DEADLINE_SECONDS = 10**8

# Room for everything in a message besides the tensors' bytes.
ENVELOPE_BYTES = 2**20


def message_limit(max_request_bytes):
    """The gRPC message limit for a server refusing requests above ``max_request_bytes`` of values.

    Twice the request limit: a request somewhat too large still arrives and gets a clear
    INVALID_ARGUMENT from validation; only far larger ones are cut by gRPC itself
    (RESOURCE_EXHAUSTED, "received message larger than max"). Capped at gRPC's int32 maximum.
    """
    return min(2 * max_request_bytes + ENVELOPE_BYTES, 2**31 - 1)


def _seconds_left(context):
    """Seconds until the client's deadline, or None without one (gRPC then reports a huge number)."""
    remaining = context.time_remaining()
    return None if remaining is None or remaining > NO_DEADLINE_SECONDS else remaining


class ModelServicer(serving_pb2_grpc.ModelServiceServicer):
    """Predict and ModelStatus over a Predictor and a status source.

    Parameters
    ----------
    predictor : Predictor
    status : callable
        () -> dict as ``ServingApp.status`` returns it.
    """

    def __init__(self, predictor, status):
        self.predictor = predictor
        self.status = status
        self.metrics = predictor.metrics

    def Predict(self, request, context):  # noqa: N802 (the gRPC method name)
        started = time.perf_counter()
        try:
            response = self._predict(request, context)
        except RequestError as error:
            self.metrics.record_request("grpc", error.code.name, time.perf_counter() - started)
            context.abort(error.code, error.message)
        except Exception as error:  # a bug must not take the server down; the client gets INTERNAL
            self.metrics.record_request("grpc", "INTERNAL", time.perf_counter() - started)
            context.abort(grpc.StatusCode.INTERNAL, f"internal error: {type(error).__name__}: {error}")
        self.metrics.record_request("grpc", "OK", time.perf_counter() - started)
        return response

    def _predict(self, request, context):
        self.predictor.check_name(request.model_name)
        inputs = {}
        for name, tensor in request.inputs.items():
            try:
                inputs[name] = from_proto(tensor, name)
            except ValueError as error:
                raise InvalidRequest(str(error)) from None
        outputs, version = self.predictor.predict(
            inputs,
            list(request.output_names),
            timeout=_seconds_left(context),
            # A client that cancels (or whose deadline passes) ends the RPC: its request is then skipped.
            on_pending=lambda pending: context.add_callback(pending.abandon),
        )
        return serving_pb2.PredictResponse(
            model_name=self.predictor.model_name,
            model_version=version,
            outputs={name: to_proto(value, name) for name, value in outputs.items()},
        )

    def ModelStatus(self, request, context):  # noqa: N802 (the gRPC method name)
        try:
            self.predictor.check_name(request.model_name)
        except RequestError as error:
            context.abort(error.code, error.message)
        status = self.status()
        return serving_pb2.ModelStatusResponse(
            model_name=status["model_name"],
            version=status["version"],
            available_versions=status["available_versions"],
            inputs=[serving_pb2.TensorSpec(**spec) for spec in status["inputs"]],
            outputs=[serving_pb2.TensorSpec(**spec) for spec in status["outputs"]],
            last_load_error=status["last_load_error"],
            counters=status["counters"],
        )


class GrpcServer:
    """A grpc.Server with the model and health services, bound to ``host:port``.

    Parameters
    ----------
    predictor : Predictor
    status : callable
    host : str
    port : int
    max_request_bytes : int
    threads : int
        Request threads; a request thread waits while its batch is gathered, so this
        bounds how many requests can be in one batch at once.
    max_queue : int
        The batcher's queue bound. RPCs waiting for a free thread are bounded too: beyond
        ``threads + max_queue`` concurrent RPCs, gRPC itself answers RESOURCE_EXHAUSTED.
    """

    def __init__(self, predictor, status, host, port, max_request_bytes, threads, max_queue):
        self.health = health.HealthServicer()
        self.server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=threads, thread_name_prefix="serving-grpc"),
            options=server_options(message_limit(max_request_bytes)),
            maximum_concurrent_rpcs=threads + max_queue,
        )
        serving_pb2_grpc.add_ModelServiceServicer_to_server(ModelServicer(predictor, status), self.server)
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        self.address = f"{host}:{port}"
        self.port = bind(self.server, self.address, "the gRPC server")

    def start(self):
        self.server.start()
        for service in ("", SERVICE_NAME):  # "" is the whole server, as grpc.health.v1 defines
            self.health.set(service, health_pb2.HealthCheckResponse.SERVING)

    def stop(self, grace):
        """Report NOT_SERVING, refuse new RPCs, and wait up to ``grace`` seconds for those in flight."""
        self.health.enter_graceful_shutdown()
        self.server.stop(grace).wait()
