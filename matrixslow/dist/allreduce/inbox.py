"""The receiving side of a ring worker: a gRPC servicer that drops chunks into a thread-safe inbox."""

import threading
import time

from ..proto import allreduce_pb2, allreduce_pb2_grpc


class RingTimeoutError(TimeoutError):
    """A neighbour did not answer or did not send in time; the message names its address."""


class RingAbortedError(RingTimeoutError):
    """Another worker gave up on the ring; the message is its reason, naming the peer it lost."""


class ChunkInbox:
    """Parts from the left neighbour, keyed by ``(step, phase, sequence, part)``.

    gRPC server threads ``put`` parts as they arrive, in any order (several ``Send`` calls are in
    flight at once); the worker thread ``take``s them one by one, in the order it needs them. A
    fast neighbour may already be a part or a step ahead, which is why parts are keyed, not queued.
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

    def put(self, chunk):
        """Store one part (a ``Chunk`` message); called from gRPC server threads."""
        key = (chunk.step, chunk.phase, chunk.sequence, chunk.part)
        with self._arrived:
            self._parts[key] = chunk
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
        Chunk
            The message as it arrived; ``data`` holds the raw bytes.

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


class RingAllReduceServicer(allreduce_pb2_grpc.RingAllReduceServicer):
    """Answers ``Hello``, files every ``Send`` in the inbox, and notes ``Goodbye`` and ``Abort``."""

    def __init__(self, rank, world_size, inbox):
        self.rank = rank
        self.world_size = world_size
        self.inbox = inbox
        self.left_said_goodbye = threading.Event()

    def Hello(self, request, context):
        return allreduce_pb2.HelloReply(rank=self.rank, world_size=self.world_size, ready=True)

    def Send(self, request, context):
        self.inbox.put(request)
        return allreduce_pb2.ChunkAck(accepted=True)

    def Abort(self, request, context):
        self.inbox.abort(f"worker {request.sender} reports: {request.reason}")
        return allreduce_pb2.ChunkAck(accepted=True)

    def Goodbye(self, request, context):
        self.left_said_goodbye.set()
        return allreduce_pb2.ChunkAck(accepted=True)
