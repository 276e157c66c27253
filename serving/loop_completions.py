"""LoopCompletions: futures of an asyncio event loop that another thread resolves, one loop wake-up per burst."""

import contextlib
import threading


class LoopCompletions:
    """Futures on an event loop that the batch worker thread resolves, one loop wake-up per batch.

    ``loop.call_soon_threadsafe`` writes to the loop's wake-up pipe every time it is called;
    a batch of 64 answers would cost 64 writes and as many turns of the loop. Answers are
    collected in a list instead, and only the first of a burst schedules the drain.
    """

    def __init__(self, loop):
        self.loop = loop
        self._lock = threading.Lock()
        self._answered = []

    def future_for(self, pending):
        """A future of this loop, resolved once ``pending`` is answered (call on the loop)."""
        future = self.loop.create_future()
        pending.add_done_callback(lambda: self._resolve_soon(future))
        return future

    def _resolve_soon(self, future):
        with self._lock:
            self._answered.append(future)
            first = len(self._answered) == 1
        if first:
            with contextlib.suppress(RuntimeError):  # the loop has closed: nobody is waiting any more
                self.loop.call_soon_threadsafe(self._resolve)

    def _resolve(self):
        with self._lock:
            answered, self._answered = self._answered, []
        for future in answered:
            if not future.done():  # done: its request timed out and was abandoned
                future.set_result(None)
