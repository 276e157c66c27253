"""ChunkStream: the bounded queue of parts behind one Stream call, its acknowledgement and its failures."""

import queue
import threading
from concurrent import futures

import grpc
import pytest

from matrixslow.dist.allreduce.send_stream import ChunkStream

WAIT_SECONDS = 30


class FakeCall(futures.Future):
    """The future a stream-unary call returns; ``result`` times out and reports cancelling as gRPC's does."""

    def result(self, timeout=None):
        try:
            return super().result(timeout)
        except futures.TimeoutError:
            raise grpc.FutureTimeoutError() from None
        except futures.CancelledError:
            raise grpc.FutureCancelledError() from None


class FakeStream:
    """Stands in for the ``Stream`` method: keeps the message iterator for the test to read, and the call to end."""

    def __init__(self):
        self.call = FakeCall()
        self.messages = None
        self.timeout = None

    def future(self, messages, timeout):
        self.messages, self.timeout = messages, timeout
        return self.call


class Refused(grpc.RpcError):
    def __init__(self, code=grpc.StatusCode.UNAVAILABLE, details="the neighbour went away"):
        self._code, self._details = code, details

    def code(self):
        return self._code

    def details(self):
        return self._details


def _stream(size=4, deadline=WAIT_SECONDS, alarm=None):
    fake = FakeStream()
    stream = ChunkStream(fake, size, deadline, call_timeout=99.0, failed=RuntimeError, alarm=alarm)
    return fake, stream


def _in_thread(function, *args):
    """Run ``function`` in a thread; returns the thread and a queue that gets its result or exception."""
    outcome = queue.Queue()

    def run():
        try:
            outcome.put(function(*args))
        except Exception as error:  # handed to the test thread
            outcome.put(error)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, outcome


def test_parts_go_out_in_order_then_the_stream_ends_and_is_acknowledged():
    fake, stream = _stream()
    assert fake.timeout == 99.0
    for index in range(3):
        stream.send(bytes([index]) * (index + 1))
    stream.end()
    assert list(fake.messages) == [b"\0", b"\1\1", b"\2\2\2"]  # and then the stream is over
    waiting, outcome = _in_thread(stream.wait_for_acknowledgement)
    waiting.join(0.2)
    assert waiting.is_alive()  # until the neighbour acknowledges
    fake.call.set_result("ack")
    waiting.join(WAIT_SECONDS)
    assert outcome.get_nowait() is None


def test_a_full_queue_holds_the_sender_back_until_the_neighbour_reads():
    fake, stream = _stream(size=2)
    sent = []
    sender, _ = _in_thread(lambda: [sent.append(stream.send(bytes([index]))) for index in range(3)])
    sender.join(0.3)
    assert sender.is_alive() and len(sent) == 2  # the third part waits for room
    assert next(fake.messages) == b"\0"  # room for one more
    sender.join(WAIT_SECONDS)
    assert len(sent) == 3
    assert [next(fake.messages), next(fake.messages)] == [b"\1", b"\2"]


def test_no_room_within_the_deadline_is_an_error():
    _, stream = _stream(size=1, deadline=0.05)
    stream.send(b"x")
    with pytest.raises(RuntimeError, match="no room for a part within 0.05 s: the neighbour stopped reading"):
        stream.send(b"y")


def test_a_failed_call_raises_from_the_next_send_end_and_wait():
    fake, stream = _stream()
    stream.send(b"x")
    fake.call.set_exception(Refused())
    for step in (lambda: stream.send(b"y"), stream.end, stream.wait_for_acknowledgement):
        with pytest.raises(RuntimeError, match="UNAVAILABLE the neighbour went away"):
            step()


def test_a_failure_wakes_a_sender_waiting_for_room_and_sounds_the_alarm_at_once():
    alarms = queue.Queue()
    fake, stream = _stream(size=1, alarm=alarms.put)
    stream.send(b"x")
    sender, outcome = _in_thread(stream.send, b"y")  # waits: the queue is full and nobody reads
    fake.call.set_exception(Refused())
    assert "UNAVAILABLE" in str(alarms.get(timeout=WAIT_SECONDS))
    sender.join(WAIT_SECONDS)
    assert not sender.is_alive()
    assert "the neighbour went away" in str(outcome.get_nowait())
    assert list(fake.messages) == []  # nor does gRPC's thread wait on the queue any longer


def test_no_acknowledgement_within_the_deadline_is_an_error():
    _, stream = _stream(deadline=0.05)
    stream.send(b"x")
    stream.end()
    with pytest.raises(RuntimeError, match="no acknowledgement of the last part within 0.05 s"):
        stream.wait_for_acknowledgement()


def test_cancel_stops_the_call_and_ends_the_messages_even_with_a_full_queue():
    fake, stream = _stream(size=2)
    stream.send(b"x")
    stream.send(b"y")
    stream.cancel()
    assert fake.call.cancelled()
    with pytest.raises(RuntimeError, match="the stream was cancelled"):
        stream.wait_for_acknowledgement()
    assert list(fake.messages) == []  # gRPC's thread stops at once instead of waiting on the queue
    stream.cancel()  # twice is harmless


def test_a_stream_needs_room_for_one_part():
    with pytest.raises(ValueError, match="at least one part, got size=0"):
        ChunkStream(FakeStream(), 0, 1.0, 1.0, RuntimeError)


def test_a_quiet_ending_after_the_last_part_has_gone_sounds_no_alarm_but_the_next_send_raises():
    alarms = queue.Queue()
    fake, stream = _stream(alarm=alarms.put)
    stream.send(b"x", last=True)
    assert next(fake.messages) == b"x"  # gone out: nothing queued, nothing more to come
    fake.call.set_exception(Refused(grpc.StatusCode.UNAVAILABLE, "Cancelling all calls"))  # the neighbour is done
    assert stream.done() and alarms.empty()
    with pytest.raises(RuntimeError, match="UNAVAILABLE Cancelling all calls"):
        stream.send(b"y")


def test_a_refusal_sounds_the_alarm_even_with_nothing_queued():
    alarms = queue.Queue()
    fake, stream = _stream(alarm=alarms.put)
    stream.send(b"x")
    assert next(fake.messages) == b"x"
    fake.call.set_exception(Refused(grpc.StatusCode.INVALID_ARGUMENT, "part 0 is malformed"))
    assert "INVALID_ARGUMENT part 0 is malformed" in str(alarms.get(timeout=WAIT_SECONDS))


def test_age_counts_from_the_opening_of_the_call():
    _, stream = _stream()
    first = stream.age
    assert 0 <= first < 5.0
    assert stream.age >= first
    assert not stream.done()


def test_a_quiet_ending_while_parts_are_still_to_come_sounds_the_alarm():
    # A neighbour killed mid-allreduce: nothing is queued at this moment, but the worker has more to send.
    alarms = queue.Queue()
    fake, stream = _stream(alarm=alarms.put)
    stream.send(b"x")
    assert next(fake.messages) == b"x"
    fake.call.set_exception(Refused(grpc.StatusCode.UNAVAILABLE, "Socket closed"))
    assert "UNAVAILABLE Socket closed" in str(alarms.get(timeout=WAIT_SECONDS))
