"""LoopCompletions: the batch worker resolves the event loop's futures with one wake-up per batch."""

import asyncio
import threading

from matrixslow.serving.batcher import Pending
from matrixslow.serving.loop_completions import LoopCompletions


def test_a_burst_of_answers_wakes_the_loop_once_and_resolves_every_future():
    loop = asyncio.new_event_loop()
    wakeups = []
    call_soon_threadsafe = loop.call_soon_threadsafe

    def counting(callback, *args):
        wakeups.append(callback)
        return call_soon_threadsafe(callback, *args)

    loop.call_soon_threadsafe = counting
    try:
        completions = LoopCompletions(loop)
        pendings = [Pending(request=None, deadline=None) for _ in range(64)]
        futures = [completions.future_for(pending) for pending in pendings]
        # The loop is not running, as when it is busy: the whole batch is answered before it drains.
        worker = threading.Thread(target=lambda: [pending._finish(outputs={}, version=1) for pending in pendings])
        worker.start()
        worker.join(30)
        assert len(wakeups) == 1
        loop.run_until_complete(asyncio.wait_for(asyncio.gather(*futures), 30))
        assert all(future.done() and future.result() is None for future in futures)
        # A second burst wakes the loop again.
        more = [Pending(request=None, deadline=None) for _ in range(3)]
        more_futures = [completions.future_for(pending) for pending in more]
        for pending in more:
            pending._finish(outputs={}, version=1)
        loop.run_until_complete(asyncio.wait_for(asyncio.gather(*more_futures), 30))
        assert len(wakeups) == 2
    finally:
        loop.close()


def test_a_future_already_given_up_is_left_alone():
    loop = asyncio.new_event_loop()
    try:
        completions = LoopCompletions(loop)
        pending = Pending(request=None, deadline=None)
        future = completions.future_for(pending)
        future.cancel()  # the request timed out on the loop before its batch ran
        pending._finish(outputs={}, version=1)
        loop.run_until_complete(asyncio.sleep(0))
        assert future.cancelled()
    finally:
        loop.close()


def test_answers_after_the_loop_closed_are_dropped_quietly():
    loop = asyncio.new_event_loop()
    completions = LoopCompletions(loop)
    pending = Pending(request=None, deadline=None)
    completions.future_for(pending)
    loop.close()  # the server stopped while a batch was still running
    pending._finish(outputs={}, version=1)
    assert pending.wait(0)
