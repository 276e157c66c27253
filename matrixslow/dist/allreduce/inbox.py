"""The receiving side of a ring worker: a gRPC servicer that drops chunks into a thread-safe inbox."""

import threading
import time

from ..proto import allreduce_pb2, allreduce_pb2_grpc
from ..tensors import join_payload


class RingTimeoutError(TimeoutError):
    """A neighbour did not answer or did not send in time; the message names its address."""


class RingAbortedError(RingTimeoutError):
    """Another worker gave up on the ring; the message is its reason, naming the peer it lost."""


class ChunkInbox:
    """Chunks from the left neighbour, keyed by ``(step, phase, sequence)``.

    gRPC server threads ``put`` the parts of each chunk as they arrive; the worker thread
    ``take``s a chunk once all its parts are in. A fast neighbour may already be a step ahead,
    which is why chunks are keyed instead of queued.
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
        key = (chunk.step, chunk.phase, chunk.sequence)
        with self._arrived:
            self._parts.setdefault(key, {})[chunk.part] = chunk
            self._arrived.notify_all()

    def take(self, step, phase, sequence, timeout, sender_label):
        """Wait for every part of one chunk and remove it from the inbox.

        Parameters
        ----------
        step, phase, sequence : int
            The key the sender used.
        timeout : float
            Seconds to wait before giving up.
        sender_label : str
            Who should have sent it ("left neighbour rank 2 at 127.0.0.1:5003"), for the error.

        Returns
        -------
        segment : int
        flat : numpy.ndarray
            The joined 1-D payload, writable.
        sample_count : int

        Raises
        ------
        RingTimeoutError
            If the chunk is still incomplete after ``timeout`` seconds.
        """
        key = (step, phase, sequence)
        give_up_at = time.monotonic() + timeout
        with self._arrived:
            while not self._complete(key):
                self.raise_if_aborted()
                remaining = give_up_at - time.monotonic()
                if remaining <= 0:
                    received = len(self._parts.get(key, {}))
                    phase_name = allreduce_pb2.Phase.Name(phase)
                    raise RingTimeoutError(
                        f"no chunk from {sender_label} within {timeout:g} s "
                        f"(step {step}, {phase_name}, ring step {sequence}; {received} part(s) received)"
                    )
                self._arrived.wait(remaining)
            parts = self._parts.pop(key)
        chunks = [parts[index] for index in range(len(parts))]
        first = chunks[0]
        flat = join_payload([chunk.tensor for chunk in chunks], name=f"segment {first.segment} from {sender_label}")
        return first.segment, flat, first.sample_count

    def _complete(self, key):
        parts = self._parts.get(key)
        if not parts:
            return False
        part_count = next(iter(parts.values())).part_count
        return len(parts) == part_count


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
