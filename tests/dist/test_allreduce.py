"""Ring allreduce on 127.0.0.1: workers are threads of the test process, every wait has a timeout.

Inputs are random INTEGER-valued floats, exactly representable, so every summation order gives
the same bits and each worker's result can be compared exactly with NumPy's sum.
"""

import contextlib
import time
from concurrent import futures

import grpc
import numpy as np
import pytest

from matrixslow.codec.tensors import ENVELOPE_BYTES, max_chunk_bytes
from matrixslow.dist.allreduce import RingAllReduce, RingTimeoutError, flatten_arrays, unflatten_arrays
from matrixslow.dist.launch import free_loopback_addresses
from matrixslow.dist.proto import allreduce_pb2, allreduce_pb2_grpc

WAIT_SECONDS = 60
SIZES = [0, 1, 17, 17**3]
BIG_SIZE = 2**20 + 3


@contextlib.contextmanager
def _ring(world_size, **kwargs):
    """``world_size`` connected workers on free ports; closed on exit."""
    workers = []
    try:
        for rank in range(world_size):
            workers.append(RingAllReduce(rank, world_size, **kwargs))
        addresses = [worker.address for worker in workers]
        for worker in workers:
            worker.connect(addresses)
        yield workers
    finally:
        for worker in workers:
            worker.close()


def _allreduce_all(workers, buffers, counts):
    """Run every worker's allreduce in its own thread; returns [(sum, count), ...] by rank."""
    with futures.ThreadPoolExecutor(max_workers=len(workers)) as pool:
        jobs = [
            pool.submit(worker.allreduce, buffer, count)
            for worker, buffer, count in zip(workers, buffers, counts, strict=True)
        ]
        return [job.result(timeout=WAIT_SECONDS) for job in jobs]


def _integer_buffers(world_size, size, dtype, seed):
    rng = np.random.default_rng(seed)
    return [rng.integers(-1000, 1000, size=size).astype(dtype) for _ in range(world_size)]


def _assert_every_worker_has(results, expected_sum, expected_count):
    for rank, (total, count) in enumerate(results):
        assert total.dtype == expected_sum.dtype, f"rank {rank}"
        assert total.shape == expected_sum.shape, f"rank {rank}"
        assert np.array_equal(total, expected_sum), f"rank {rank}"
        assert count == expected_count, f"rank {rank}"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("world_size", [1, 2, 3, 4, 5])
def test_every_worker_ends_with_the_exact_sum(world_size, dtype):
    # One ring serves every size in turn, which also checks that consecutive allreduces do not mix.
    with _ring(world_size, deadline=20) as workers:
        for seed, size in enumerate(SIZES):
            buffers = _integer_buffers(world_size, size, dtype, seed)
            expected = np.sum(np.stack(buffers).astype(np.float64), axis=0).astype(dtype)
            _assert_every_worker_has(_allreduce_all(workers, buffers, [1] * world_size), expected, world_size)

        ones = [np.ones((3, 7), dtype) for _ in range(world_size)]
        _assert_every_worker_has(
            _allreduce_all(workers, ones, [2] * world_size), np.full((3, 7), world_size, dtype), 2 * world_size
        )


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("world_size", [2, 3])
def test_a_buffer_of_a_million_elements_sums_exactly(world_size, dtype):
    buffers = _integer_buffers(world_size, BIG_SIZE, dtype, seed=7)
    expected = np.sum(np.stack(buffers).astype(np.float64), axis=0).astype(dtype)
    with _ring(world_size, deadline=30) as workers:
        results = _allreduce_all(workers, buffers, [1] * world_size)
    _assert_every_worker_has(results, expected, world_size)


def test_unequal_sample_counts_sum_and_give_the_exact_mean():
    counts = [3, 0, 7, 11]
    buffers = _integer_buffers(4, 50, np.float64, seed=3)
    with _ring(4) as workers:
        results = _allreduce_all(workers, buffers, counts)
    expected_sum = np.sum(np.stack(buffers), axis=0)
    _assert_every_worker_has(results, expected_sum, 21)
    for total, count in results:
        assert np.allclose(total / count, expected_sum / 21)


def test_one_worker_is_a_no_op():
    buffer = np.arange(5.0)
    with _ring(1) as (worker,):
        total, count = worker.allreduce(buffer, 4)
        assert worker.bytes_sent == 0
    assert np.array_equal(total, np.arange(5.0))
    assert count == 4


def _allreduce_into(workers, buffers, outs):
    with futures.ThreadPoolExecutor(max_workers=len(workers)) as pool:
        jobs = [
            pool.submit(worker.allreduce, buffer, 1, out=out)
            for worker, buffer, out in zip(workers, buffers, outs, strict=True)
        ]
        return [job.result(timeout=WAIT_SECONDS) for job in jobs]


@pytest.mark.parametrize("world_size", [1, 2, 3])
def test_the_sum_goes_into_out_or_in_place_into_the_buffer(world_size):
    buffers = [buffer.reshape(13, 17) for buffer in _integer_buffers(world_size, 13 * 17, np.float32, seed=11)]
    expected = np.sum(np.stack(buffers), axis=0)
    # Parts of 5 elements: every segment goes in several parts, so in place a segment is read
    # and overwritten part by part while other parts of it are still on the way.
    with _ring(world_size, deadline=20) as workers:
        for worker in workers:
            worker.part_bytes = 5 * 4
        outs = [np.full_like(buffer, np.nan) for buffer in buffers]
        results = _allreduce_into(workers, buffers, outs)
        assert all(total is out for (total, _), out in zip(results, outs, strict=True))
        _assert_every_worker_has(results, expected, world_size)

        in_place = [buffer.copy() for buffer in buffers]
        results = _allreduce_into(workers, in_place, in_place)
        assert all(total is buffer for (total, _), buffer in zip(results, in_place, strict=True))
        _assert_every_worker_has(results, expected, world_size)


@pytest.mark.parametrize(
    ("out", "problem"),
    [
        (np.zeros(6), "got shape (6,), dtype float64"),
        (np.zeros((2, 3), np.float32), "got shape (2, 3), dtype float32"),
        (np.zeros((3, 2)).T, "not C-contiguous"),
        (np.zeros((2, 3)).view(), "read-only"),
        ([[0.0] * 3] * 2, "got list"),
    ],
)
def test_an_out_that_cannot_hold_the_sum_is_refused_before_anything_is_sent(out, problem):
    if isinstance(out, np.ndarray) and problem == "read-only":
        out.flags.writeable = False
    with _ring(1) as (worker,), pytest.raises((TypeError, ValueError)) as refused:
        worker.allreduce(np.zeros((2, 3)), 1, out=out)
    message = str(refused.value)
    expected = "a writeable C-contiguous numpy array of shape (2, 3) and dtype float64"
    assert f"ring worker 0: out must be {expected}" in message
    assert problem in message


@pytest.mark.parametrize("world_size", [2, 3, 4, 5])
def test_each_worker_sends_two_n_minus_one_over_n_of_the_buffer(world_size):
    shapes = {"conv/kernel": (3, 5, 11), "dense/w": (7, 13), "dense/b": (2, 7), "scale": ()}
    rng = np.random.default_rng(world_size)
    grads = [
        {name: rng.integers(-9, 9, size=shape).astype(np.float64) for name, shape in shapes.items()}
        for _ in range(world_size)
    ]
    flats = [flatten_arrays(worker_grads) for worker_grads in grads]
    buffers = [buffer for buffer, _ in flats]
    layout = flats[0][1]
    # 165 + 91 + 14 + 1 = 271 elements, a prime: the segments are never all the same size.
    assert buffers[0].size == 271 and 271 % world_size != 0

    with _ring(world_size) as workers:
        results = _allreduce_all(workers, buffers, [1] * world_size)
        sent = [worker.bytes_sent for worker in workers]

    ideal = 2 * (world_size - 1) / world_size * buffers[0].nbytes
    for rank, sent_bytes in enumerate(sent):
        assert abs(sent_bytes - ideal) <= 0.01 * ideal, f"rank {rank} sent {sent_bytes} bytes, ideal {ideal}"
    for total, _ in results:
        summed = unflatten_arrays(total, layout)
        for name, shape in shapes.items():
            assert summed[name].shape == shape
            assert np.array_equal(summed[name], sum(worker_grads[name] for worker_grads in grads))


def test_a_small_message_limit_forces_many_parts_and_still_sums_exactly():
    limit = ENVELOPE_BYTES + 64  # eight float64 per part
    # The servers refuse any message over the limit, so an unsplit segment would fail the RPC.
    assert max_chunk_bytes(limit) // 8 == 8
    buffers = _integer_buffers(3, 1000, np.float64, seed=11)
    with _ring(3, max_message_bytes=limit) as workers:
        results = _allreduce_all(workers, buffers, [1, 1, 1])
        sent = [worker.bytes_sent for worker in workers]
    _assert_every_worker_has(results, np.sum(np.stack(buffers), axis=0), 3)
    # Every part of the 4 segments of ~333 elements is counted.
    assert all(abs(s - 4 * 1000 / 3 * 8) < 0.01 * 4 * 1000 / 3 * 8 for s in sent)


def test_a_neighbour_that_never_starts_is_named_within_twice_the_deadline():
    dead = free_loopback_addresses(1)[0]
    with RingAllReduce(0, 2, deadline=1.0) as worker:
        started = time.monotonic()
        with pytest.raises(RingTimeoutError, match=f"rank 1 at {dead}.*never answered Hello"):
            worker.connect([worker.address, dead])
        assert time.monotonic() - started < 2.0


class SilentNeighbour(allreduce_pb2_grpc.RingAllReduceServicer):
    """Says hello as rank 1 of 2, accepts chunks, never sends any."""

    def Hello(self, request, context):
        return allreduce_pb2.HelloReply(rank=1, world_size=2, ready=True)

    def Stream(self, request_iterator, context):
        for _ in request_iterator:
            pass
        return allreduce_pb2.ChunkAck(accepted=True)


def test_a_left_neighbour_that_never_sends_is_named_within_twice_the_deadline():
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    allreduce_pb2_grpc.add_RingAllReduceServicer_to_server(SilentNeighbour(), server)
    silent = f"127.0.0.1:{server.add_insecure_port('127.0.0.1:0')}"
    server.start()
    try:
        with RingAllReduce(0, 2, deadline=1.0) as worker:
            worker.connect([worker.address, silent])
            started = time.monotonic()
            with pytest.raises(RingTimeoutError, match=f"no chunk from left neighbour rank 1 at {silent}"):
                worker.allreduce(np.ones(10), 1)
            assert time.monotonic() - started < 2.0
    finally:
        server.stop(grace=None).wait(timeout=5)


def test_a_ring_wired_in_the_wrong_order_is_refused_at_hello():
    with contextlib.ExitStack() as stack:
        workers = [stack.enter_context(RingAllReduce(rank, 3, deadline=2.0)) for rank in range(3)]
        swapped = [workers[0].address, workers[2].address, workers[1].address]
        with pytest.raises(ValueError, match="answered as rank 2 of 3; expected rank 1 of 3"):
            workers[0].connect(swapped)


def test_a_neighbour_that_starts_late_is_waited_for():
    late_port_holder = free_loopback_addresses(1)[0]
    host, port = late_port_holder.rsplit(":", 1)
    with RingAllReduce(0, 2, deadline=10.0) as first, futures.ThreadPoolExecutor(max_workers=1) as pool:
        connecting = pool.submit(first.connect, [first.address, late_port_holder])
        time.sleep(0.5)
        with RingAllReduce(1, 2, listen=f"{host}:{port}", deadline=10.0) as second:
            second.connect([first.address, second.address])
            connecting.result(timeout=WAIT_SECONDS)
            results = _allreduce_all([first, second], [np.full(4, 2.0), np.full(4, 5.0)], [1, 2])
    _assert_every_worker_has(results, np.full(4, 7.0), 3)


def test_a_stream_is_renewed_at_half_its_deadline_and_one_that_ran_out_between_allreduces_is_replaced():
    buffers = _integer_buffers(2, 100, np.float64, seed=9)
    expected = buffers[0] + buffers[1]
    with _ring(2, deadline=10) as workers:
        for worker in workers:
            worker.stream_seconds = 1.0
        _assert_every_worker_has(_allreduce_all(workers, buffers, [1, 1]), expected, 2)
        first = [worker._outgoing for worker in workers]
        time.sleep(0.6)  # past half the deadline: the next allreduce ends these streams and opens new ones
        _assert_every_worker_has(_allreduce_all(workers, buffers, [1, 1]), expected, 2)
        second = [worker._outgoing for worker in workers]
        assert all(new is not old for new, old in zip(second, first, strict=True))
        time.sleep(1.3)  # the new streams run out of their deadline while nobody sends
        assert all(stream.done() for stream in second)
        _assert_every_worker_has(_allreduce_all(workers, buffers, [1, 1]), expected, 2)
        assert all(
            worker._outgoing not in (old, older) for worker, old, older in zip(workers, second, first, strict=True)
        )
