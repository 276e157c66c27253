"""The pipelined ring: parts of segments, parts arriving out of order, any part size and send queue."""

import contextlib
import queue
import threading
import time
from concurrent import futures

import grpc
import numpy as np
import pytest

from matrixslow.dist.allreduce import ChunkInbox, RingAllReduce, RingTimeoutError
from matrixslow.dist.allreduce.parts import segment_parts
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


class ScriptedLeftNeighbour(allreduce_pb2_grpc.RingAllReduceServicer):
    """Rank 0 of a ring of 2, played by the test: it records what rank 1 sends."""

    def __init__(self, refusal=None):
        self.received = queue.Queue()
        self.refusal = refusal  # a status detail to refuse the stream with, at the first part of step 1

    def Hello(self, request, context):
        return allreduce_pb2.HelloReply(rank=0, world_size=2, ready=True)

    def Stream(self, request_iterator, context):
        for request in request_iterator:
            if self.refusal is not None and request.step == 1:
                context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, self.refusal)
            self.received.put(request)
        return allreduce_pb2.ChunkAck(accepted=True)


@contextlib.contextmanager
def _scripted_pair(neighbour, part_bytes):
    """Rank 1 of a ring of 2 whose rank 0 is ``neighbour``; yields (worker, stub to send it rank 0's chunks)."""
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    allreduce_pb2_grpc.add_RingAllReduceServicer_to_server(neighbour, server)
    left = f"127.0.0.1:{server.add_insecure_port('127.0.0.1:0')}"
    server.start()
    try:
        with contextlib.ExitStack() as stack:
            worker = stack.enter_context(RingAllReduce(1, 2, deadline=10.0))
            worker.part_bytes = part_bytes
            worker.connect([left, worker.address])
            channel = stack.enter_context(grpc.insecure_channel(worker.address))
            yield worker, allreduce_pb2_grpc.RingAllReduceStub(channel)
    finally:
        server.stop(grace=None).wait(timeout=5)


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
    rng = np.random.default_rng(5)
    mine, theirs = rng.integers(-99, 99, size=(2, 20)).astype(np.float64)  # segments [0:10] and [10:20]
    total = mine + theirs
    # Four float64 per part: segments of 10 go as parts of 4, 4, 2.
    with _scripted_pair(neighbour, part_bytes=4 * 8) as (worker, stub), futures.ThreadPoolExecutor(1) as pool:
        job = pool.submit(worker.allreduce, mine, 3)
        # Reduce-scatter: rank 0 sends its segment 0; rank 1 adds its own and sends the sum back.
        stub.Stream(iter(_part_chunks(SCATTER_REDUCE, theirs[:10], 0, 4, sample_count=2)), timeout=WAIT_SECONDS)
        sent = [neighbour.received.get(timeout=WAIT_SECONDS) for _ in range(6)]
        # All-gather: rank 0 sends the finished segment 1.
        stub.Stream(iter(_part_chunks(ALL_GATHER, total[10:], 1, 4, sample_count=5)), timeout=WAIT_SECONDS)
        result, count = job.result(timeout=WAIT_SECONDS)
        assert worker.bytes_sent == 20 * 8

    assert np.array_equal(result, total)
    assert count == 5
    by_phase = {SCATTER_REDUCE: np.full(20, np.nan), ALL_GATHER: np.full(20, np.nan)}
    for chunk in sent:
        start = 10 * chunk.segment + chunk.offset
        by_phase[chunk.phase][start : start + len(chunk.data) // 8] = np.frombuffer(chunk.data, "<f8")
        assert chunk.sample_count == {SCATTER_REDUCE: 3, ALL_GATHER: 5}[chunk.phase]
    assert np.array_equal(by_phase[SCATTER_REDUCE][10:], mine[10:])  # its own segment 1, as it was
    assert np.array_equal(by_phase[ALL_GATHER][:10], total[:10])  # segment 0, summed


def test_a_right_neighbour_that_refuses_a_part_stops_the_allreduce_at_once_with_its_reason():
    values = np.arange(4.0)
    with (
        _scripted_pair(ScriptedLeftNeighbour(refusal="no room to file it"), part_bytes=1024) as (worker, stub),
        futures.ThreadPoolExecutor(1) as pool,
    ):
        job = pool.submit(worker.allreduce, values, 1)
        stub.Stream(iter(_part_chunks(SCATTER_REDUCE, values[:2], 0, 2, sample_count=1)), timeout=WAIT_SECONDS)
        stub.Stream(iter(_part_chunks(ALL_GATHER, 2 * values[2:], 1, 2, sample_count=2)), timeout=WAIT_SECONDS)
        result, _ = job.result(timeout=WAIT_SECONDS)
        assert np.array_equal(result, 2 * values)
        # Step 1: the neighbour refuses the first part. The worker, waiting for the left neighbour's
        # part (which never comes), learns it at once, not after its 10 s deadline.
        started = time.monotonic()
        with pytest.raises(RingTimeoutError, match="right neighbour rank 0 at .*RESOURCE_EXHAUSTED no room to file it"):
            worker.allreduce(values, 1)
        assert time.monotonic() - started < 5.0


@contextlib.contextmanager
def _ring(world_size, part_bytes, queue_parts, deadline=20.0):
    workers = [RingAllReduce(rank, world_size, deadline=deadline) for rank in range(world_size)]
    try:
        for worker in workers:
            worker.part_bytes, worker.queue_parts = part_bytes, queue_parts
            worker.connect([other.address for other in workers])
        yield workers
    finally:
        for worker in workers:
            worker.close()


@pytest.mark.parametrize(("world_size", "queue_parts"), [(2, 1), (3, 2), (4, 16)])
def test_many_small_parts_with_any_window_sum_exactly(world_size, queue_parts):
    rng = np.random.default_rng(world_size)
    buffers = [rng.integers(-1000, 1000, size=(37, 29)).astype(np.float32) for _ in range(world_size)]
    expected = np.sum(np.stack(buffers).astype(np.float64), axis=0).astype(np.float32)
    with (
        _ring(world_size, part_bytes=7 * 4, queue_parts=queue_parts) as workers,
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
    with _ring(2, part_bytes=8 * 8, queue_parts=4, deadline=5.0) as workers, futures.ThreadPoolExecutor(2) as pool:
        jobs = [pool.submit(workers[0].allreduce, np.ones(30), 1), pool.submit(workers[1].allreduce, np.ones(34), 1)]
        errors = []
        for job in jobs:
            with contextlib.suppress(ValueError, RingTimeoutError):
                job.result(timeout=WAIT_SECONDS)
            errors.append(job.exception(timeout=0))
    assert all(error is not None for error in errors)
    assert any("do all workers flatten the same layout?" in str(error) for error in errors), errors
