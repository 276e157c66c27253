"""The gRPC front end: ModelService (Predict, ModelStatus), the v2 inference.GRPCInferenceService
(``serving.v2_grpc``) and the standard grpc.health.v1 service, on one port.

Tensors travel as ``matrixslow.dist.Tensor`` (dtype, shape, raw little-endian bytes),
packed and unpacked with ``matrixslow.codec.tensors``. Every failure becomes one status
code (see ``serving.errors``) with a message naming the input and the shape it takes;
the servicer never lets an exception escape, so one bad request never affects another.

Why grpc.aio: a request spends nearly all its life waiting for its batch. With the
thread-pool server every waiting request held a thread, and 64 threads taking turns at
the GIL cost more than the model did (a small MLP served 2,900 requests/s at 64 clients).
Here one event loop thread decodes, queues and answers every request and awaits their
batches, and the batch worker wakes the loop once per batch rather than once per request
(``LoopCompletions``): about 1.5x the requests/s on two cores (benchmark/test_serving.py).
"""

import asyncio
import threading

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from matrixslow.codec.tensors import bind, from_proto, server_options, to_proto

from . import v2_grpc
from .errors import InvalidRequest, RequestError
from .grpc_calls import counted, parse, predicted
from .loop_completions import LoopCompletions
from .ports import check_can_listen
from .proto import serving_pb2
from .validation import check_name_lengths

SERVICE_NAME = "serving.ModelService"

# Room for everything in a message besides the tensors' bytes.
ENVELOPE_BYTES = 2**20

# RPCs beyond the batcher's queue bound that gRPC still lets in: status and health calls, and
# requests being decoded or answered. Past that gRPC answers RESOURCE_EXHAUSTED by itself.
EXTRA_RPCS = 64

START_STOP_SECONDS = 60.0


def message_limit(max_request_bytes):
    """The gRPC message limit for a server refusing requests above ``max_request_bytes`` of values.

    Twice the request limit: a request somewhat too large still arrives and gets a clear
    INVALID_ARGUMENT from validation; only far larger ones are cut by gRPC itself
    (RESOURCE_EXHAUSTED, "received message larger than max"). Capped at gRPC's int32 maximum.
    """
    return min(2 * max_request_bytes + ENVELOPE_BYTES, 2**31 - 1)


def _version(request):
    """The request's ``version``: None (0, proto3's default) for the newest served; InvalidRequest below 0."""
    if request.version < 0:
        raise InvalidRequest(
            f"version {request.version} is not a version: versions are numbered from 1, and 0 asks for the newest"
        )
    return request.version or None


def _method_handlers(servicer):
    """ModelService's methods, taking the request's raw bytes so ``parse`` can answer INVALID_ARGUMENT.

    (Left to gRPC, an unparsable message is UNKNOWN, logged with a traceback per request.)
    """
    handlers = {
        "Predict": grpc.unary_unary_rpc_method_handler(
            servicer.Predict, response_serializer=serving_pb2.PredictResponse.SerializeToString
        ),
        "ModelStatus": grpc.unary_unary_rpc_method_handler(
            servicer.ModelStatus, response_serializer=serving_pb2.ModelStatusResponse.SerializeToString
        ),
    }
    return grpc.method_handlers_generic_handler(SERVICE_NAME, handlers)


class ModelServicer:
    """Predict and ModelStatus over a Predictor and a status source, as coroutines on the server's loop.

    Each method takes the serialized request (see ``_method_handlers``).

    Parameters
    ----------
    predictor : Predictor
    status : callable
        (version or None) -> dict as ``ServingApp.status`` returns it.
    completions : LoopCompletions
        Wakes the loop when batches are answered.
    """

    def __init__(self, predictor, status, completions):
        self.predictor = predictor
        self.status = status
        self.completions = completions
        self.metrics = predictor.metrics

    async def Predict(self, data, context):  # noqa: N802 (the gRPC method name)
        return await counted(self.metrics, "grpc", context, self._predict(data, context))

    async def _predict(self, data, context):
        request = parse(serving_pb2.PredictRequest, data)
        self.predictor.check_name(request.model_name)
        version = _version(request)
        check_name_lengths(request.inputs, "input")
        check_name_lengths(request.output_names, "output")
        inputs = {}
        for name, tensor in request.inputs.items():
            try:
                inputs[name] = from_proto(tensor, name)
            except ValueError as error:
                raise InvalidRequest(str(error)) from None
        outputs, version = await predicted(
            self.predictor, self.completions, inputs, list(request.output_names), context, version
        )
        return serving_pb2.PredictResponse(
            model_name=self.predictor.model_name,
            model_version=version,
            outputs={name: to_proto(value, name) for name, value in outputs.items()},
        )

    async def ModelStatus(self, data, context):  # noqa: N802 (the gRPC method name)
        try:
            request = parse(serving_pb2.ModelStatusRequest, data)
            self.predictor.check_name(request.model_name)
            status = self.status(_version(request))
        except RequestError as error:
            await context.abort(error.code, error.message)
        return serving_pb2.ModelStatusResponse(
            model_name=status["model_name"],
            version=status["version"],
            available_versions=status["available_versions"],
            inputs=[serving_pb2.TensorSpec(**spec) for spec in status["inputs"]],
            outputs=[serving_pb2.TensorSpec(**spec) for spec in status["outputs"]],
            last_load_error=status["last_load_error"],
            counters=status["counters"],
            loaded_versions=status["loaded_versions"],
            failed_versions=status["failed_versions"],
        )


class GrpcServer:
    """A grpc.aio server with the model and health services, bound to ``host:port``, on a loop thread of its own.

    Parameters
    ----------
    predictor : Predictor
    status : callable
    host : str
    port : int
    max_request_bytes : int
    max_queue : int
        The batcher's queue bound. Beyond ``max_queue + EXTRA_RPCS`` concurrent RPCs gRPC
        itself answers RESOURCE_EXHAUSTED.
    port_flag : str, optional
        The command-line flag that sets ``port``, named when the port cannot be bound.
    credentials : grpc.ServerCredentials, optional
        TLS (``grpc.ssl_server_credentials``); None serves plaintext.

    Raises
    ------
    serving.ports.PortUnavailable
        When ``host:port`` cannot be bound (checked before gRPC tries, see ``serving.ports``).

    Notes
    -----
    gRPC's core listens with a backlog of ``net.core.somaxconn`` (4096 here), so unlike
    socketserver's default of 5 a burst of connections needs no setting (test_connection_burst.py).
    """

    def __init__(self, predictor, status, host, port, max_request_bytes, max_queue, port_flag=None, credentials=None):
        check_can_listen(host, port, "the gRPC server", port_flag)
        self.address = f"{host}:{port}"
        self.credentials = credentials
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="serving-grpc", daemon=True)
        self._thread.start()
        self.health = health.aio.HealthServicer()
        self.stopping = False
        completions = LoopCompletions(self._loop)
        servicer = ModelServicer(predictor, status, completions)
        self.inference = v2_grpc.InferenceServicer(predictor, completions, lambda: not self.stopping)
        options = server_options(message_limit(max_request_bytes))
        try:
            self.server, self.port = self._run(self._create(servicer, options, max_queue + EXTRA_RPCS))
        except BaseException:
            self._end_loop()
            raise

    async def _create(self, servicer, options, max_rpcs):
        # Created on the loop it will run on: grpc.aio binds a server to the running loop.
        server = grpc.aio.server(options=options, maximum_concurrent_rpcs=max_rpcs)
        server.add_generic_rpc_handlers((_method_handlers(servicer), v2_grpc.method_handlers(self.inference)))
        health_pb2_grpc.add_HealthServicer_to_server(self.health, server)
        return server, bind(server, self.address, "the gRPC server", self.credentials)

    def start(self):
        self._run(self._start())

    async def _start(self):
        await self.server.start()
        for service in ("", SERVICE_NAME):  # "" is the whole server, as grpc.health.v1 defines
            await self.health.set(service, health_pb2.HealthCheckResponse.SERVING)

    def stop(self, grace):
        """Report NOT_SERVING, refuse new RPCs, and wait up to ``grace`` seconds for those in flight."""
        try:
            self._run(self._stop(grace), timeout=grace + START_STOP_SECONDS)
        finally:
            self._end_loop()

    async def _stop(self, grace):
        self.stopping = True  # v2 ServerReady answers false from now on
        await self.health.enter_graceful_shutdown()
        await self.server.stop(grace)

    def _run(self, coroutine, timeout=START_STOP_SECONDS):
        """Run ``coroutine`` on the server's loop from another thread; its result or its exception."""
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    def _end_loop(self):
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(START_STOP_SECONDS)
        if not self._thread.is_alive():
            self._loop.close()
