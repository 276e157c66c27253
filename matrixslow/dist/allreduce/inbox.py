"""The receiving side of a ring worker: a gRPC servicer that drops chunks into a thread-safe inbox."""

import threading
import time

import grpc

from ..proto import allreduce_pb2
from .wire import decode_chunk

SERVICE_NAME = allreduce_pb2.DESCRIPTOR.services_by_name["RingAllReduce"].full_name


class RingTimeoutError(TimeoutError):
    """A neighbour did not answer or did not send in time; the message names its address."""


class RingAbortedError(RingTimeoutError):
    """Another worker gave up on the ring; the message is its reason, naming the peer it lost."""


class ChunkInbox:
    """Parts from the left neighbour, keyed by ``(step, phase, sequence, part)``.

    A gRPC server thread ``put``s parts as they arrive; the worker thread ``take``s them one by one,
    in the order it needs them. A fast neighbour may already be a part or a step ahead, which is
    why parts are keyed, not queued.
    """

    def __init__(self):
        self._parts = {}
        self._arrived = threading.Condition()
        self.abort_reason = None  # set when a neighbour reports that the ring has failed

    def abort(self, reason):
        """Wake the worker thread: the ring failed elsewhere, for ``reason``."""
        with self._arrived:
            if self.abort_reason is None:
                self.abort_reason = reason
            self._arrived.notify_all()

    def raise_if_aborted(self):
        if self.abort_reason is not None:
            raise RingAbortedError(f"the ring was aborted: {self.abort_reason}")

    def put(self, header, data):
        """Store one part: its ``Chunk`` header and its data (bytes-like); called from gRPC server threads."""
        key = (header.step, header.phase, header.sequence, header.part)
        with self._arrived:
            self._parts[key] = (header, data)
            self._arrived.notify_all()

    def take(self, step, phase, sequence, part, timeout, sender_label):
        """Wait for one part and remove it from the inbox.

        Parameters
        ----------
        step, phase, sequence, part : int
            The key the sender used.
        timeout : float
            Seconds to wait before giving up.
        sender_label : str
            Who should have sent it ("left neighbour rank 2 at 127.0.0.1:5003"), for the error.

        Returns
        -------
        (Chunk, memoryview)
            The part's header (its ``data`` field empty) and its raw bytes.

        Raises
        ------
        RingTimeoutError
            If the part has not arrived after ``timeout`` seconds.
        RingAbortedError
            If a neighbour reported that the ring failed.
        """
        key = (step, phase, sequence, part)
        give_up_at = time.monotonic() + timeout
        with self._arrived:
            while key not in self._parts:
                self.raise_if_aborted()
                remaining = give_up_at - time.monotonic()
                if remaining <= 0:
                    phase_name = allreduce_pb2.Phase.Name(phase)
                    received = sum(1 for other in self._parts if other[:3] == key[:3])
                    raise RingTimeoutError(
                        f"no chunk from {sender_label} within {timeout:g} s (step {step}, {phase_name}, "
                        f"ring step {sequence}, part {part}; {received} other part(s) of that ring step waiting)"
                    )
                self._arrived.wait(remaining)
            return self._parts.pop(key)


class RingAllReduceServicer:
    """Answers ``Hello``, files every part of a ``Stream`` in the inbox, and notes ``Goodbye`` and ``Abort``.

    ``Stream`` takes the messages' raw bytes (see ``add_to_server``): ``wire.decode_chunk`` reads
    each header and leaves the data where it arrived.
    """

    def __init__(self, rank, world_size, inbox):
        self.rank = rank
        self.world_size = world_size
        self.inbox = inbox
        self.left_said_goodbye = threading.Event()

    def add_to_server(self, server):
        """Serve the RingAllReduce service: the generated message types, but raw bytes in for ``Stream``."""
        ack = allreduce_pb2.ChunkAck.SerializeToString
        handlers = {
            "Hello": grpc.unary_unary_rpc_method_handler(
                self.Hello, allreduce_pb2.HelloRequest.FromString, allreduce_pb2.HelloReply.SerializeToString
            ),
            "Stream": grpc.stream_unary_rpc_method_handler(self.Stream, response_serializer=ack),
            "Goodbye": grpc.unary_unary_rpc_method_handler(self.Goodbye, allreduce_pb2.HelloRequest.FromString, ack),
            "Abort": grpc.unary_unary_rpc_method_handler(self.Abort, allreduce_pb2.AbortRequest.FromString, ack),
        }
        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE_NAME, handlers),))

    def Hello(self, request, context):  # noqa: N802 (the gRPC method names)
        return allreduce_pb2.HelloReply(rank=self.rank, world_size=self.world_size, ready=True)

    def Stream(self, messages, context):  # noqa: N802
        try:
            for message in messages:
                try:
                    header, data = decode_chunk(message)
                except ValueError as error:
                    context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"ring worker {self.rank}: {error}")
                self.inbox.put(header, data)
        except grpc.RpcError:  # the sender cancelled or the deadline came: that call is over, not the ring
            return allreduce_pb2.ChunkAck(accepted=False)  # nobody reads it; gRPC still wants a message
        return allreduce_pb2.ChunkAck(accepted=True)

    def Abort(self, request, context):  # noqa: N802
        self.inbox.abort(f"worker {request.sender} reports: {request.reason}")
        return allreduce_pb2.ChunkAck(accepted=True)

    def Goodbye(self, request, context):  # noqa: N802
        self.left_said_goodbye.set()
        return allreduce_pb2.ChunkAck(accepted=True)
