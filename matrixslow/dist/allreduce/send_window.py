"""A bounded window of ``Send`` RPCs in flight to one neighbour."""

import collections

import grpc


class SendWindow:
    """Start ``Send`` calls without waiting for each acknowledgement, but never more than ``size`` at once.

    Waiting for every acknowledgement before the next ``Send`` (stop-and-wait) leaves the link idle
    for a round trip per part; with several calls in flight gRPC writes the parts back to back while
    this thread goes on receiving and adding. The bound keeps the unacknowledged parts, and the
    neighbour's inbox, small.

    Parameters
    ----------
    send : grpc.UnaryUnaryMultiCallable
        The neighbour's ``Send`` method, taking a serialized ``Chunk`` (see ``wire.encode_chunk``).
    size : int
        Most calls in flight; ``send`` waits for the oldest acknowledgement when the window is full.
    deadline : float
        Seconds each call may take.
    failed : callable
        ``failed(rpc_error, header)`` returns the exception to raise when a call fails.
    alarm : callable, optional
        ``alarm(exception)`` is called from a gRPC thread the moment a call fails, so that the
        thread, which may be waiting for the left neighbour meanwhile, learns it at once.
    """

    def __init__(self, send, size, deadline, failed, alarm=None):
        if size < 1:
            raise ValueError(f"a send window needs room for at least one call, got size={size}")
        self._send = send
        self.size = size
        self.deadline = deadline
        self._failed = failed
        self._alarm = alarm
        self._calls = collections.deque()  # (future, header, payload bytes), oldest first
        self.bytes_sent = 0  # payload bytes of every acknowledged part

    def __len__(self):
        return len(self._calls)

    def send(self, message, header, payload_bytes):
        """Start sending ``message`` (``header`` names it in errors), once the window has room."""
        while len(self._calls) >= self.size:
            self._wait_for_oldest()
        future = self._send.future(message, timeout=self.deadline)
        if self._alarm is not None:
            future.add_done_callback(lambda done: self._sound_alarm_if_failed(done, header))
        self._calls.append((future, header, payload_bytes))

    def drain(self):
        """Wait until every call has been acknowledged."""
        while self._calls:
            self._wait_for_oldest()

    def cancel(self):
        """Give up on every call still in flight (after a failure)."""
        while self._calls:
            future, _, _ = self._calls.popleft()
            future.cancel()

    def _sound_alarm_if_failed(self, future, header):
        if not future.cancelled() and future.exception() is not None:
            self._alarm(self._failed(future.exception(), header))

    def _wait_for_oldest(self):
        future, header, payload_bytes = self._calls.popleft()
        try:
            future.result()
        except grpc.RpcError as error:
            raise self._failed(error, header) from error
        self.bytes_sent += payload_bytes
