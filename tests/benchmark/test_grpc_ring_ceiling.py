"""The gRPC ring ceiling moves exactly a ring allreduce's bytes round the ring, and every worker finishes."""

from concurrent import futures

import numpy as np
import pytest

from benchmark.grpc_ring_ceiling import RingTransferCeiling
from matrixslow.dist.allreduce.worker import PART_BYTES
from matrixslow.dist.launch import free_loopback_addresses

WAIT_SECONDS = 60


@pytest.mark.parametrize("world_size", [2, 3])
def test_each_worker_sends_and_receives_two_n_minus_one_over_n_of_the_buffer(world_size):
    addresses = free_loopback_addresses(world_size)
    workers = [RingTransferCeiling(rank, addresses) for rank in range(world_size)]
    try:
        # 1000 bytes: less than a part; 2.5 parts: several parts, and for 3 workers round the buffer again.
        for nbytes in (1000, PART_BYTES * 5 // 2):
            buffers = [np.full(nbytes // 4, rank, np.float32) for rank in range(world_size)]
            outs = [np.empty_like(buffer) for buffer in buffers]
            with futures.ThreadPoolExecutor(world_size) as pool:
                jobs = [pool.submit(w.allreduce, b, 1, out=o) for w, b, o in zip(workers, buffers, outs, strict=True)]
                results = [job.result(timeout=WAIT_SECONDS) for job in jobs]
            assert [total is out for (total, _), out in zip(results, outs, strict=True)] == [True] * world_size
            expected = round(2 * (world_size - 1) / world_size * nbytes)
            assert [worker.bytes_sent for worker in workers] == [expected] * world_size
    finally:
        for worker in workers:
            worker.close()
