"""The gRPC face of one parameter-server shard: ``ParameterServicer`` and ``ParameterServer``.

Push and Pull stream their tensors in parts of at most ``parts.PART_BYTES`` (see ``parts``).
PushPull is a synchronous step of a small model in one call: one message up, one message back;
Steps carries a worker's PushPulls on one long-lived stream, which spares each step gRPC's cost of
opening a call on both sides (a thread's wake-up, a round of completions): about half a small step.

No worker ever holds a server thread for long: a synchronous Pull waits at most
``long_poll_seconds`` (and never past the caller's deadline), then answers ``ready=False`` with
the workers that have not pushed, and the client asks again. The thread pool is still sized for
the worker count so that one long-poll per worker never starves the pushes that would end it.

With a ``deadline`` a watcher thread ends the run of a worker silent that long (see ``runs``).
"""

import collections
import contextlib
import threading
from concurrent import futures

import grpc

from ...codec.tensors import bind, server_options
from ..proto import parameter_server_pb2 as pb
from .parts import PART_BYTES, PartCollector, decode_message, encode_message, encode_whole, messages, part_bytes
from .state import SYNC, NotReadyError, ParameterState, VariableMismatchError

# Both gRPC message limits. Tensors travel in parts of at most 1 MiB (see ``parts``), so any limit
# above a few KiB works; 256 MB only matters to callers that send whole tensors themselves.
DEFAULT_MAX_MESSAGE_BYTES = 256 << 20

# Headroom over one RPC per worker: Init/Push calls arriving while every worker long-polls.
EXTRA_THREADS = 4

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["ParameterService"].full_name

STATUS_CODES = {
    VariableMismatchError: grpc.StatusCode.INVALID_ARGUMENT,
    NotReadyError: grpc.StatusCode.FAILED_PRECONDITION,
}


def _reporting_errors(method):
    """Turn the state's exceptions into gRPC statuses whose details carry the message."""

    def wrapper(self, request, context):
        with _aborting_on_errors(context):
            return method(self, request, context)

    wrapper.__name__ = method.__name__
    wrapper.__doc__ = method.__doc__
    return wrapper


@contextlib.contextmanager
def _aborting_on_errors(context):
    try:
        yield
    except (VariableMismatchError, NotReadyError) as error:
        context.abort(STATUS_CODES[type(error)], str(error))
    except ValueError as error:  # a malformed Tensor or TensorPart
        context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(error))


def read_parts(stream, message_type, field, what):
    """The header and ``{name: array}`` of an Init or Push stream of serialized ``message_type`` messages."""
    first = next(stream, None)
    envelope, parts = (None, []) if first is None else decode_message(message_type, field, first)
    if envelope is None or not envelope.HasField("header"):
        raise ValueError(f"a {what} stream must start with its header")
    collector = PartCollector(f"worker {envelope.header.worker}", copy=False)  # the state only reads them
    collector.add_all(parts)
    for message in stream:
        later, parts = decode_message(message_type, field, message)
        if later.HasField("header"):
            raise ValueError(f"worker {envelope.header.worker}: a {what} stream has one header, in its first message")
        collector.add_all(parts)
    return envelope.header, collector.arrays()


def pull_parts(header, tensors, size):
    """The Pull (or Init reply) stream, serialized: ``header`` and the first parts of ``tensors``, then the rest."""
    batches = messages(tensors, size)
    yield encode_message(pb.PullPart(header=header), "tensors", next(batches))
    for batch in batches:
        yield encode_message(pb.PullPart(), "tensors", batch)


class SharedReplies:
    """Encoded PushPull replies of the last few steps: a step's means are encoded once, for every worker.

    Every worker of a synchronous step gets the same reply, so the shard's encoding work stays
    one per step whatever the worker count. A step's result is known by identity: the state
    hands every worker the same dict of means, and holding it here keeps its id from being reused.
    """

    def __init__(self, size=4):
        self._recent = collections.deque(maxlen=size)  # (means, step, reply)
        self._lock = threading.Lock()

    def reply(self, means, step, encode):
        """The reply of ``step`` with ``means``: ``encode()`` the first time, the same bytes after."""
        # Encoded under the lock: the step's other pullers, woken together, wait for these bytes
        # instead of encoding them again at the same time (and sharing the GIL for it).
        with self._lock:
            for held, held_step, reply in self._recent:
                if held is means and held_step == step:
                    return reply
            reply = encode()
            self._recent.append((means, step, reply))
            return reply


class ParameterServicer:
    """Serves one ``ParameterState`` over the ParameterService protocol.

    The messages that carry tensors come and go as bytes (``add_to_server``), encoded and decoded
    by ``parts`` so that protobuf never copies their data.

    Parameters
    ----------
    state : ParameterState
    long_poll_seconds : float
        Longest time a synchronous Pull, PushPull or step of Steps waits for the step's last pushes.
    part_bytes : int
        Data bytes per streamed ``TensorPart``.
    stream_slots : int
        Steps streams served at once; more are refused (RESOURCE_EXHAUSTED) before reading a push.
    """

    def __init__(self, state, long_poll_seconds=0.5, part_bytes=PART_BYTES, stream_slots=0):
        self.state = state
        self.long_poll_seconds = long_poll_seconds
        self.part_bytes = part_bytes
        self.replies = SharedReplies()
        self.stream_slots = stream_slots
        self._streams = 0  # Steps streams open now
        self._streams_lock = threading.Lock()

    @property
    def open_streams(self):
        """Steps streams served now."""
        with self._streams_lock:
            return self._streams

    def add_to_server(self, server):
        """Serve the ParameterService: raw bytes for the streams of parts, protobuf for the rest."""
        handlers = {
            "Init": grpc.stream_stream_rpc_method_handler(self.Init),
            "Push": grpc.stream_unary_rpc_method_handler(self.Push, response_serializer=pb.PushReply.SerializeToString),
            "Pull": grpc.unary_stream_rpc_method_handler(self.Pull, request_deserializer=pb.PullRequest.FromString),
            # Unary both ways: a client-streaming call costs gRPC a thread on each side to feed the stream.
            "PushPull": grpc.unary_unary_rpc_method_handler(self.PushPull),
            "Steps": grpc.stream_stream_rpc_method_handler(self.Steps),
            "Leave": grpc.unary_unary_rpc_method_handler(
                self.Leave,
                request_deserializer=pb.LeaveRequest.FromString,
                response_serializer=pb.LeaveReply.SerializeToString,
            ),
        }
        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE_NAME, handlers),))

    @_reporting_errors
    def Init(self, request_iterator, context):  # noqa: N802 (the gRPC method names)
        header, variables = read_parts(request_iterator, pb.InitPart, "variables", "Init")
        values, step = self.state.init(header.worker, variables, header.session, header.join_only)
        return pull_parts(pb.PullHeader(step=step, ready=True), values, self.part_bytes)

    @_reporting_errors
    def Push(self, request_iterator, context):  # noqa: N802
        header, gradients = read_parts(request_iterator, pb.PushPart, "gradients", "Push")
        accepted, step, reason = self.state.push(
            header.worker, header.step, gradients, header.sample_count, header.session
        )
        return pb.PushReply(accepted=accepted, server_step=step, reason=reason)

    @_reporting_errors
    def Pull(self, request, context):  # noqa: N802
        # Everything that can fail happens before the first part is sent, so errors still reach the caller
        # as a status: the generator below only serialises.
        names = list(request.names)
        if request.content == pb.VALUES:
            values, step = self.state.values(names, request.worker, request.session)
            return pull_parts(pb.PullHeader(step=step, ready=True), values, self.part_bytes)
        ready, means, count, missing = self.state.pull_mean(
            request.worker, request.step, names, timeout=self._long_poll(context), session=request.session
        )
        header = pb.PullHeader(step=request.step, sample_count=count, ready=ready, missing_workers=missing)
        return pull_parts(header, means, self.part_bytes)

    @_reporting_errors
    def PushPull(self, request, context):  # noqa: N802
        return self._push_pull(request, context)

    def Steps(self, request_iterator, context):  # noqa: N802
        with self._streams_lock:
            admitted = self._streams < self.stream_slots
            self._streams += admitted
        if not admitted:
            context.abort(
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                f"this shard keeps {self.stream_slots} Steps streams open at most (see ParameterServer's "
                "max_threads); call PushPull",
            )
        try:
            for request in request_iterator:  # ends when the worker ends the stream, or gRPC cancels it
                with _aborting_on_errors(context):
                    reply = self._push_pull(request, context)
                yield reply
        finally:
            with self._streams_lock:
                self._streams -= 1

    def _push_pull(self, request, context):
        header, gradients = read_parts(iter([request]), pb.PushPart, "gradients", "PushPull")
        ready, means, count, missing = self.state.push_pull_mean(
            header.worker, header.step, gradients, header.sample_count, self._long_poll(context), header.session
        )

        def encode():
            reply = pb.PullHeader(step=header.step, sample_count=count, ready=ready, missing_workers=missing)
            # The means have the pushed gradients' names, shapes and dtypes: they fit one message as the push did.
            return encode_whole(pb.PullPart(header=reply), "tensors", means)

        return self.replies.reply(means, header.step, encode) if ready else encode()

    def _long_poll(self, context):
        """How long a synchronous Pull or PushPull (or a step of Steps) may wait for the step's last pushes."""
        remaining = context.time_remaining()
        # Answer a little before the caller's deadline so it gets "not ready" instead of DEADLINE_EXCEEDED.
        return self.long_poll_seconds if remaining is None else max(0.0, min(self.long_poll_seconds, remaining / 2))

    @_reporting_errors
    def Leave(self, request, context):  # noqa: N802
        self.state.leave(request.worker, request.session)
        return pb.LeaveReply()


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
        Longest time a synchronous Pull or PushPull holds a server thread.
    max_threads : int, optional
        Server threads; by default ``2 * num_workers + 4``: a Steps stream per worker, and one call
        per worker besides. Fewer still finish (long-polls give their thread back), only slower:
        only the threads beyond ``num_workers + 4`` are lent to Steps streams, and a worker refused
        one steps by PushPull calls.
    deadline : float, optional
        Seconds a worker may stay silent before its run is over and logged; None: never checked.
    tls : matrixslow.dist.tls.PeerTLS, optional
        Serve TLS only, to workers whose certificate the job's CA signed; None: plaintext.
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
        deadline=None,
        tls=None,
    ):
        self.state = ParameterState(num_workers, mode, learning_rate, max_staleness, deadline)
        self._stopping = threading.Event()
        self._watcher = None
        self._requested_address = address
        self._tls = tls
        threads = max_threads or 2 * num_workers + EXTRA_THREADS
        self._server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=threads), options=server_options(max_message_bytes)
        )
        # A stream holds its thread for good: the calls keep the threads a shard without streams would have.
        stream_slots = max(0, threads - num_workers - EXTRA_THREADS)
        self.servicer = ParameterServicer(self.state, long_poll_seconds, part_bytes(max_message_bytes), stream_slots)
        self.servicer.add_to_server(self._server)
        self.address = None

    def start(self):
        """Bind and serve; returns the ``host:port`` actually bound."""
        host = self._requested_address.rsplit(":", 1)[0]
        port = bind(
            self._server,
            self._requested_address,
            "parameter server",
            None if self._tls is None else self._tls.server_credentials(),
        )
        self._server.start()
        self.address = f"{host}:{port}"
        if self.state.runs.deadline is not None:
            self._watcher = threading.Thread(target=self._watch, name="parameter-server-deadline", daemon=True)
            self._watcher.start()
        return self.address

    def _watch(self):
        # A tenth of the deadline between looks: a silent worker is named within 1.1 deadlines.
        while not self._stopping.wait(self.state.runs.deadline / 10):
            self.state.check_deadline()

    def stop(self, grace=None):
        """Stop serving; waits for the shutdown to finish."""
        self._stopping.set()
        self._server.stop(grace).wait(timeout=10)
        if self._watcher is not None:
            self._watcher.join(timeout=10)

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc_info):
        self.stop()
