"""The parts a ring worker sends, on one long-lived client-streaming ``Stream`` call to its right neighbour."""

import collections
import threading
import time

import grpc

_END = object()  # tells the message generator that no more parts will come
# How a call ends when the right neighbour stops serving (done or gone) or the deadline comes;
# any other status is the neighbour refusing a part.
QUIET_ENDINGS = frozenset([grpc.StatusCode.CANCELLED, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.UNAVAILABLE])


class ChunkStream:
    """Queue serialized parts for one ``Stream`` call; gRPC's own thread writes them while the worker goes on.

    Why one stream instead of one unary call per part: every call pays for its own HTTP/2
    headers, a completion on each side and a server thread's wake-up, and only the calls in a
    window overlap. On one stream the parts follow each other back to back, paced by HTTP/2 flow
    control; between two processes on this machine that moved about 1.5x the bytes per second.
    And why one stream for many allreduces: opening a call costs gRPC a thread and a round trip,
    about 1 ms here, more than a small allreduce's whole exchange.

    A call that fails while the worker still has parts to send in this allreduce (queued, or
    yet to come), or that the neighbour refuses (any status but those in ``QUIET_ENDINGS``),
    sounds the alarm at once: a neighbour killed mid-allreduce is named within moments. One
    that ends quietly once the allreduce's last part is queued and gone raises nothing yet: the
    right neighbour may just be done (it stops its server after its last allreduce, which cuts
    the stream off), or the deadline came between two allreduces. The worker then opens a new
    stream at its next allreduce, which fails at once if the neighbour is gone.

    The queue holds at most ``size`` parts: the worker thread, which meanwhile receives and adds,
    is held back when the neighbour reads slower than it sends, so memory stays flat.

    Parameters
    ----------
    stream : grpc.StreamUnaryMultiCallable
        The neighbour's ``Stream`` method, taking serialized ``Chunk``s (see ``wire.encode_chunk``).
    size : int
        Most parts waiting in the queue.
    deadline : float
        Seconds a part may wait for room in the queue, and the acknowledgement may take.
    call_timeout : float
        Deadline of the whole call, which serves many allreduces.
    failed : callable
        ``failed(problem)`` returns the exception to raise; ``problem`` says what went wrong.
    alarm : callable, optional
        ``alarm(exception)`` is called from a gRPC thread the moment the call fails, so that the
        worker thread, which may be waiting for the left neighbour meanwhile, learns it at once.
    """

    def __init__(self, stream, size, deadline, call_timeout, failed, alarm=None):
        if size < 1:
            raise ValueError(f"a chunk stream needs room for at least one part, got size={size}")
        self.size = size
        self.deadline = deadline
        self._failed = failed
        self._alarm = alarm
        # A deque and one condition rather than queue.Queue: a call that fails must wake a sender
        # waiting for room, which a Queue's put() cannot be told to stop waiting for.
        self._parts = collections.deque()
        self._changed = threading.Condition()
        self._stopped = False  # the call is over: nothing more goes out
        self._more_to_come = True  # the worker has parts of this allreduce still to send (see send(last=))
        self._opened_at = time.monotonic()
        self._call = stream.future(self._messages(), timeout=call_timeout)
        self._call.add_done_callback(self._on_done)

    def _messages(self):
        """What gRPC's thread sends: the queued parts, until ``_END`` or the call is over."""
        while True:
            with self._changed:
                while not self._parts and not self._stopped:
                    self._changed.wait()
                if self._stopped:
                    return
                message = self._parts.popleft()
                self._changed.notify_all()
            if message is _END:
                return
            yield message

    @property
    def age(self):
        """Seconds since the call was opened."""
        return time.monotonic() - self._opened_at

    def done(self):
        """Whether the call is over (ended, failed, cancelled or expired)."""
        return self._call.done()

    def send(self, message, last=False):
        """Queue one serialized part; waits up to ``deadline`` for room.

        ``last`` marks the last part the worker sends in this allreduce; the next ``send`` starts another.
        """
        self._put(message, more_to_come=not last)

    def end(self):
        """No more parts: gRPC's thread closes the stream once it has written the queued ones."""
        self._put(_END)

    def wait_for_acknowledgement(self):
        """Wait up to ``deadline`` for the neighbour to acknowledge every part (after ``end``)."""
        try:
            self._call.result(timeout=self.deadline)
        except grpc.FutureTimeoutError:
            raise self._failed(f"no acknowledgement of the last part within {self.deadline:g} s") from None
        except grpc.FutureCancelledError:
            raise self._failed("the stream was cancelled") from None
        except grpc.RpcError as error:
            raise self._failed(_describe(error)) from error

    def cancel(self):
        """Give up on the call if it is still going (after a failure); lets gRPC's thread finish."""
        if not self._call.done():
            self._call.cancel()
        self._stop()

    def _put(self, item, more_to_come=False):
        give_up_at = time.monotonic() + self.deadline
        with self._changed:
            while len(self._parts) >= self.size and not self._stopped:
                remaining = give_up_at - time.monotonic()
                if remaining <= 0:
                    raise self._failed(f"no room for a part within {self.deadline:g} s: the neighbour stopped reading")
                self._changed.wait(remaining)
            if not self._stopped:
                self._parts.append(item)
                self._more_to_come = more_to_come
                self._changed.notify_all()
                return
        raise self._failure()  # the call ended before this part (asked outside the lock: it asks the call)

    def _failure(self):
        if self._call.cancelled():
            return self._failed("the stream was cancelled")
        error = self._call.exception()
        problem = _describe(error) if error is not None else "the stream ended before every part was sent"
        return self._failed(problem)

    def _on_done(self, call):
        """From a gRPC thread when the call ends: wake whoever waits, and sound the alarm if it failed."""
        self._stop()
        error = None if call.cancelled() else call.exception()
        if self._alarm is None or error is None:
            return
        with self._changed:
            parts_lost = self._more_to_come or any(part is not _END for part in self._parts)
        if parts_lost or not (isinstance(error, grpc.RpcError) and error.code() in QUIET_ENDINGS):
            self._alarm(self._failure())

    def _stop(self):
        with self._changed:
            self._stopped = True
            self._changed.notify_all()


def _describe(error):
    return f"{error.code().name} {error.details()}" if isinstance(error, grpc.RpcError) else str(error)
