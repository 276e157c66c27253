"""The pipelined ring: parts of segments, parts arriving out of order, the bounded window of Send calls."""

import contextlib
import queue
import threading
from concurrent import futures

import grpc
import numpy as np
import pytest

from matrixslow.dist.allreduce import ChunkInbox, RingAllReduce, RingTimeoutError
from matrixslow.dist.allreduce.parts import segment_parts
from matrixslow.dist.allreduce.send_window import SendWindow
from matrixslow.dist.allreduce.wire import encode_chunk
from matrixslow.dist.proto import allreduce_pb2, allreduce_pb2_grpc

WAIT_SECONDS = 30
SCATTER_REDUCE, ALL_GATHER = allreduce_pb2.SCATTER_REDUCE, allreduce_pb2.ALL_GATHER


def test_a_segment_is_cut_into_parts_that_cover_it_exactly():
    bounds = [0, 10, 20, 20]
    parts = segment_parts(bounds, 1, 4)
    assert [(part.index, part.count, part.offset, part.size) for part in parts] == [
        (0, 3, 0, 4),
        (1, 3, 4, 4),
        (2, 3, 8, 2),
    ]
    assert [(part.elements.start, part.elements.stop) for part in parts] == [(10, 14), (14, 18), (18, 20)]
    # An empty segment still has one (empty) part, so its ring step happens.
    (empty,) = segment_parts(bounds, 2, 4)
    assert (empty.count, empty.size, empty.elements.start) == (1, 0, 20)


def _chunk(part, step=0, phase=SCATTER_REDUCE, sequence=0):
    """(header, data) of one part, as the servicer files it."""
    return allreduce_pb2.Chunk(step=step, phase=phase, sequence=sequence, part=part), bytes([part])


def test_the_inbox_hands_out_parts_in_the_order_asked_whatever_order_they_arrive_in():
    inbox = ChunkInbox()
    arrivals = [_chunk(2), _chunk(0, step=1), _chunk(1), _chunk(0)]  # a part of the next step too
    threads = [threading.Thread(target=inbox.put, args=chunk) for chunk in arrivals]
    for thread in threads:
        thread.start()
    taken = [inbox.take(0, SCATTER_REDUCE, 0, part, WAIT_SECONDS, "left") for part in range(3)]
    assert [(header.step, header.part, data) for header, data in taken] == [(0, 0, b"\0"), (0, 1, b"\1"), (0, 2, b"\2")]
    assert inbox.take(1, SCATTER_REDUCE, 0, 0, WAIT_SECONDS, "left")[0].step == 1
    for thread in threads:
        thread.join(WAIT_SECONDS)


def test_a_missing_part_is_reported_with_its_place_and_sender():
    inbox = ChunkInbox()
    inbox.put(*_chunk(1, phase=ALL_GATHER, sequence=2))
    with pytest.raises(RingTimeoutError, match=r"no chunk from left rank 3 .*ALL_GATHER, ring step 2, part 0; 1 other"):
        inbox.take(0, ALL_GATHER, 2, 0, 0.05, "left rank 3")


class FakeSend:
    """Stands in for the ``Send`` call: every call returns a future the test completes by hand."""

    def __init__(self):
        self.calls = queue.Queue()

    def future(self, message, timeout):
        call = futures.Future()
        self.calls.put((allreduce_pb2.Chunk.FromString(message), call))
        return call


def send_part(window, part, data):
    """``window.send`` of a part carrying ``data``, as the ring worker sends it."""
    header = allreduce_pb2.Chunk(part=part)
    window.send(encode_chunk(header, data), header, len(data))


class Refused(grpc.RpcError):
    pass


def test_the_window_never_has_more_calls_in_flight_than_its_size():
    send = FakeSend()
    window = SendWindow(send, size=2, deadline=1.0, failed=lambda error, header: AssertionError("unexpected"))
    sender = threading.Thread(target=lambda: [send_part(window, index, b"x" * (index + 1)) for index in range(3)])
    sender.start()
    first, first_call = send.calls.get(timeout=WAIT_SECONDS)
    second, _ = send.calls.get(timeout=WAIT_SECONDS)
    # Two calls in flight: the third waits for the oldest acknowledgement.
    with pytest.raises(queue.Empty):
        send.calls.get(timeout=0.3)
    first_call.set_result(allreduce_pb2.ChunkAck(accepted=True))
    third, _ = send.calls.get(timeout=WAIT_SECONDS)
    sender.join(WAIT_SECONDS)
    assert [first.part, second.part, third.part] == [0, 1, 2]
    assert third.data == b"xxx"
    assert len(window) == 2
    assert window.bytes_sent == 1  # only the acknowledged part is counted


def test_a_failed_call_raises_the_error_the_window_was_given():
    send = FakeSend()
    window = SendWindow(send, size=4, deadline=1.0, failed=lambda error, header: RuntimeError(f"part {header.part}"))
    send_part(window, 0, b"ab")
    send_part(window, 1, b"cd")
    (_, ok), (_, refused) = send.calls.get_nowait(), send.calls.get_nowait()
    ok.set_result(allreduce_pb2.ChunkAck(accepted=True))
    refused.set_exception(Refused())
    with pytest.raises(RuntimeError, match="part 1"):
        window.drain()
    assert window.bytes_sent == 2


def test_a_failed_call_sounds_the_alarm_at_once_without_waiting_for_the_next_send():
    send, alarms = FakeSend(), queue.Queue()
    window = SendWindow(
        send, 4, 1.0, failed=lambda error, header: RuntimeError(f"part {header.part}"), alarm=alarms.put
    )
    send_part(window, 3, b"")
    _, call = send.calls.get_nowait()
    assert alarms.empty()
    call.set_exception(Refused())
    assert str(alarms.get(timeout=WAIT_SECONDS)) == "part 3"


class ScriptedLeftNeighbour(allreduce_pb2_grpc.RingAllReduceServicer):
    """Rank 0 of a ring of 2, played by the test: it records what rank 1 sends."""

    def __init__(self):
        self.received = queue.Queue()

    def Hello(self, request, context):
        return allreduce_pb2.HelloReply(rank=0, world_size=2, ready=True)

    def Send(self, request, context):
        self.received.put(request)
        return allreduce_pb2.ChunkAck(accepted=True)


def _part_chunks(phase, values, segment, per_part, sample_count):
    """Rank 0's Chunk messages for one segment, made by hand from the wire format, in reverse part order."""
    starts = list(range(0, values.size, per_part))
    chunks = [
        allreduce_pb2.Chunk(
            step=0,
            phase=phase,
            sender=0,
            sequence=0,
            segment=segment,
            part=index,
            part_count=len(starts),
            offset=start,
            dtype="float64",
            data=values[start : start + per_part].astype("<f8").tobytes(),
            sample_count=sample_count,
        )  # fmt: skip
        for index, start in enumerate(starts)
    ]
    return chunks[::-1]


def test_parts_sent_in_reverse_order_are_summed_and_forwarded_exactly():
    neighbour = ScriptedLeftNeighbour()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    allreduce_pb2_grpc.add_RingAllReduceServicer_to_server(neighbour, server)
    left = f"127.0.0.1:{server.add_insecure_port('127.0.0.1:0')}"
    server.start()
    rng = np.random.default_rng(5)
    mine, theirs = rng.integers(-99, 99, size=(2, 20)).astype(np.float64)  # segments [0:10] and [10:20]
    total = mine + theirs
    try:
        with contextlib.ExitStack() as stack:
            worker = stack.enter_context(RingAllReduce(1, 2, deadline=10.0))
            pool = stack.enter_context(futures.ThreadPoolExecutor(1))
            worker.part_bytes = 4 * 8  # four float64 per part: segments of 10 go as parts of 4, 4, 2
            worker.connect([left, worker.address])
            job = pool.submit(worker.allreduce, mine, 3)
            channel = stack.enter_context(grpc.insecure_channel(worker.address))
            stub = allreduce_pb2_grpc.RingAllReduceStub(channel)
            # Reduce-scatter: rank 0 sends its segment 0; rank 1 adds its own and sends the sum back.
            for chunk in _part_chunks(SCATTER_REDUCE, theirs[:10], 0, 4, sample_count=2):
                stub.Send(chunk, timeout=WAIT_SECONDS)
            sent = [neighbour.received.get(timeout=WAIT_SECONDS) for _ in range(6)]
            # All-gather: rank 0 sends the finished segment 1.
            for chunk in _part_chunks(ALL_GATHER, total[10:], 1, 4, sample_count=5):
                stub.Send(chunk, timeout=WAIT_SECONDS)
            result, count = job.result(timeout=WAIT_SECONDS)
            assert worker.bytes_sent == 20 * 8
    finally:
        server.stop(grace=None).wait(timeout=5)

    assert np.array_equal(result, total)
    assert count == 5
    by_phase = {SCATTER_REDUCE: np.full(20, np.nan), ALL_GATHER: np.full(20, np.nan)}
    for chunk in sent:
        start = 10 * chunk.segment + chunk.offset
        by_phase[chunk.phase][start : start + len(chunk.data) // 8] = np.frombuffer(chunk.data, "<f8")
        assert chunk.sample_count == {SCATTER_REDUCE: 3, ALL_GATHER: 5}[chunk.phase]
    assert np.array_equal(by_phase[SCATTER_REDUCE][10:], mine[10:])  # its own segment 1, as it was
    assert np.array_equal(by_phase[ALL_GATHER][:10], total[:10])  # segment 0, summed


@contextlib.contextmanager
def _ring(world_size, part_bytes, window_parts, deadline=20.0):
    workers = [RingAllReduce(rank, world_size, deadline=deadline) for rank in range(world_size)]
    try:
        for worker in workers:
            worker.part_bytes, worker.window_parts = part_bytes, window_parts
            worker.connect([other.address for other in workers])
        yield workers
    finally:
        for worker in workers:
            worker.close()


@pytest.mark.parametrize(("world_size", "window_parts"), [(2, 1), (3, 2), (4, 16)])
def test_many_small_parts_with_any_window_sum_exactly(world_size, window_parts):
    rng = np.random.default_rng(world_size)
    buffers = [rng.integers(-1000, 1000, size=(37, 29)).astype(np.float32) for _ in range(world_size)]
    expected = np.sum(np.stack(buffers).astype(np.float64), axis=0).astype(np.float32)
    with (
        _ring(world_size, part_bytes=7 * 4, window_parts=window_parts) as workers,
        futures.ThreadPoolExecutor(world_size) as pool,
    ):
        for repeat in range(2):  # consecutive allreduces must not mix their parts
            jobs = [pool.submit(worker.allreduce, buffer, rank + 1) for rank, (worker, buffer) in enumerate(
                zip(workers, buffers, strict=True))]  # fmt: skip
            for rank, job in enumerate(jobs):
                total, count = job.result(timeout=WAIT_SECONDS)
                assert total.shape == (37, 29) and total.dtype == np.float32
                assert np.array_equal(total, expected), f"rank {rank}, repeat {repeat}"
                assert count == world_size * (world_size + 1) // 2
            ideal = 2 * (world_size - 1) / world_size * buffers[0].nbytes
            for worker in workers:
                assert abs(worker.bytes_sent - ideal) <= 0.01 * ideal


def test_workers_whose_buffers_differ_in_size_fail_with_a_clear_error():
    with _ring(2, part_bytes=8 * 8, window_parts=4, deadline=5.0) as workers, futures.ThreadPoolExecutor(2) as pool:
        jobs = [pool.submit(workers[0].allreduce, np.ones(30), 1), pool.submit(workers[1].allreduce, np.ones(34), 1)]
        errors = []
        for job in jobs:
            with contextlib.suppress(ValueError, RingTimeoutError):
                job.result(timeout=WAIT_SECONDS)
            errors.append(job.exception(timeout=0))
    assert all(error is not None for error in errors)
    assert any("do all workers flatten the same layout?" in str(error) for error in errors), errors
