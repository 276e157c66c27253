"""The gRPC face of one parameter-server shard: ``ParameterServicer`` and ``ParameterServer``.

No worker ever holds a server thread for long: a synchronous Pull waits at most
``long_poll_seconds`` (and never past the caller's deadline), then answers ``ready=False`` with
the workers that have not pushed, and the client asks again. The thread pool is still sized for
the worker count so that one long-poll per worker never starves the pushes that would end it.
"""

from concurrent import futures

import grpc

from ..proto import parameter_server_pb2 as pb
from ..proto import parameter_server_pb2_grpc as pb_grpc
from ..proto.tensor_pb2 import NamedTensor
from ..tensors import bind, from_proto, server_options, to_proto
from .state import SYNC, NotReadyError, ParameterState, VariableMismatchError

# 256 MB: a 64 MB variable and its envelope pass with room to spare.
DEFAULT_MAX_MESSAGE_BYTES = 256 << 20

# Headroom over one RPC per worker: Init/Push calls arriving while every worker long-polls.
EXTRA_THREADS = 4

STATUS_CODES = {
    VariableMismatchError: grpc.StatusCode.INVALID_ARGUMENT,
    NotReadyError: grpc.StatusCode.FAILED_PRECONDITION,
}


def arrays_from(named_tensors):
    """``{name: array}`` from repeated ``NamedTensor``; the arrays are writable copies."""
    return {item.name: from_proto(item.tensor, name=item.name).copy() for item in named_tensors}


def named_tensors(arrays):
    """Repeated ``NamedTensor`` from ``{name: array}``, in name order."""
    return [NamedTensor(name=name, tensor=to_proto(arrays[name], name=name)) for name in sorted(arrays)]


def _reporting_errors(method):
    """Turn the state's exceptions into gRPC statuses whose details carry the message."""

    def wrapper(self, request, context):
        try:
            return method(self, request, context)
        except (VariableMismatchError, NotReadyError) as error:
            context.abort(STATUS_CODES[type(error)], str(error))
        except ValueError as error:  # a malformed Tensor
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(error))

    wrapper.__name__ = method.__name__
    wrapper.__doc__ = method.__doc__
    return wrapper


class ParameterServicer(pb_grpc.ParameterServiceServicer):
    """Serves one ``ParameterState`` over the ParameterService protocol."""

    def __init__(self, state, long_poll_seconds=0.5):
        self.state = state
        self.long_poll_seconds = long_poll_seconds

    @_reporting_errors
    def Init(self, request, context):
        values, step = self.state.init(request.worker, arrays_from(request.variables))
        return pb.InitReply(variables=named_tensors(values), step=step)

    @_reporting_errors
    def Push(self, request, context):
        gradients = arrays_from(request.gradients)
        accepted, step, reason = self.state.push(request.worker, request.step, gradients, request.sample_count)
        return pb.PushReply(accepted=accepted, server_step=step, reason=reason)

    @_reporting_errors
    def Pull(self, request, context):
        names = list(request.names)
        if request.content == pb.VALUES:
            values, step = self.state.values(names)
            return pb.PullReply(step=step, tensors=named_tensors(values), ready=True)
        remaining = context.time_remaining()
        # Answer a little before the caller's deadline so it gets "not ready" instead of DEADLINE_EXCEEDED.
        wait = self.long_poll_seconds if remaining is None else max(0.0, min(self.long_poll_seconds, remaining / 2))
        ready, means, count, missing = self.state.pull_mean(request.worker, request.step, names, timeout=wait)
        return pb.PullReply(
            step=request.step, sample_count=count, tensors=named_tensors(means), ready=ready, missing_workers=missing
        )


class ParameterServer:
    """One shard on a loopback or network port; start it, hand its ``address`` to the workers, stop it.

    Parameters
    ----------
    num_workers : int
    address : str
        ``host:port``; port 0 picks a free one (read ``address`` after ``start``).
    mode, learning_rate, max_staleness
        See ``ParameterState``.
    max_message_bytes : int
        Both gRPC message limits; workers must use the same value.
    long_poll_seconds : float
        Longest time a synchronous Pull holds a server thread.
    max_threads : int, optional
        Server threads; by default ``num_workers + 4``. Fewer still finish (long-polls give their
        thread back), only slower.
    """

    def __init__(
        self,
        num_workers,
        address="127.0.0.1:0",
        mode=SYNC,
        learning_rate=None,
        max_staleness=None,
        max_message_bytes=DEFAULT_MAX_MESSAGE_BYTES,
        long_poll_seconds=0.5,
        max_threads=None,
    ):
        self.state = ParameterState(num_workers, mode, learning_rate, max_staleness)
        self._requested_address = address
        self._server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=max_threads or num_workers + EXTRA_THREADS),
            options=server_options(max_message_bytes),
        )
        pb_grpc.add_ParameterServiceServicer_to_server(ParameterServicer(self.state, long_poll_seconds), self._server)
        self.address = None

    def start(self):
        """Bind and serve; returns the ``host:port`` actually bound."""
        host = self._requested_address.rsplit(":", 1)[0]
        port = bind(self._server, self._requested_address, "parameter server")
        self._server.start()
        self.address = f"{host}:{port}"
        return self.address

    def stop(self, grace=None):
        """Stop serving; waits for the shutdown to finish."""
        self._server.stop(grace).wait(timeout=10)

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc_info):
        self.stop()
