"""One worker's long-lived Steps call to one shard: a step's push goes out, the shard's answer comes back."""

import queue
import time

_END = object()  # tells gRPC's thread, which reads the queue, that the stream is over


class StepStream:
    """A Steps call kept open from one synchronous step to the next, renewed before its deadline.

    Why: opening a call costs gRPC a thread's wake-up and a round of completions on each side,
    about a millisecond when two workers call one shard at once, half a small model's step; on
    an open stream a step is one message each way. gRPC's own thread writes the queued pushes.

    Parameters
    ----------
    method : grpc.StreamStreamMultiCallable
        The shard's Steps, serialized messages in and out.
    timeout : float
        Deadline of the whole call. It is ``worn`` once half of it is gone, so a step begun on
        it still has half the deadline for an answer, which the shard gives within its long-poll.
    """

    def __init__(self, method, timeout):
        self.timeout = timeout
        self.fresh = True  # no answer yet: a refusal now came before the shard read any push
        self._requests = queue.SimpleQueue()
        self._opened_at = time.monotonic()
        self._call = method(iter(self._requests.get, _END), timeout=timeout)

    def worn(self):
        """Whether the next step needs another stream: half the deadline is gone, or the call is over."""
        return self._call.done() or time.monotonic() - self._opened_at > self.timeout / 2

    def send(self, request):
        """Queue one serialized push; it goes out at once, on gRPC's thread."""
        self._requests.put(request)

    def receive(self):
        """The answer to the oldest push not answered yet, or None if the shard ended the stream instead.

        Raises ``grpc.RpcError`` when the call failed (the shard is gone, refused, or the deadline came).
        """
        try:
            reply = next(self._call)
        except StopIteration:
            return None
        self.fresh = False
        return reply

    def close(self, cancel=False):
        """End the stream, which frees the shard's thread; ``cancel`` also drops an answer still on its way."""
        self._requests.put(_END)  # also lets gRPC's thread, waiting for the next push, finish
        if cancel:
            self._call.cancel()
