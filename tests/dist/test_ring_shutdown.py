"""A ring worker that finishes first must not cut off its left neighbour's last acknowledgement."""

import threading
from concurrent import futures

import grpc
import numpy as np

from matrixslow.dist.allreduce import RingAllReduce
from matrixslow.dist.launch import free_loopback_addresses

WAIT_SECONDS = 20


def test_close_with_wait_for_left_keeps_the_server_up_until_the_left_neighbour_says_goodbye():
    addresses = free_loopback_addresses(2)
    workers = [RingAllReduce(rank, 2, addresses[rank], deadline=5.0) for rank in range(2)]
    with futures.ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda worker: worker.connect(addresses), workers))
        list(pool.map(lambda worker: worker.allreduce(np.ones(3), 1), workers))
    closed = threading.Event()
    closing = threading.Thread(target=lambda: (workers[1].close(wait_for_left=True), closed.set()))
    closing.start()
    # Worker 1 said goodbye to worker 0 but waits for worker 0's: its server must still answer.
    assert not closed.wait(0.5)
    channel = grpc.insecure_channel(addresses[1])
    grpc.channel_ready_future(channel).result(timeout=WAIT_SECONDS)
    channel.close()
    workers[0].close(wait_for_left=True)
    assert closed.wait(WAIT_SECONDS)
    closing.join(WAIT_SECONDS)


def test_a_worker_that_closes_right_after_its_last_allreduce_still_delivers_its_last_parts():
    # A worker's allreduce returns once it has everything it needs, while its last parts to the
    # right neighbour may still be queued for the wire; close() must deliver them, not drop them.
    for repeat in range(10):
        workers = [RingAllReduce(rank, 3, deadline=5.0) for rank in range(3)]
        addresses = [worker.address for worker in workers]
        for worker in workers:
            worker.part_bytes = 64 * 8  # many parts, so that some are still queued at the end
            worker.connect(addresses)

        def allreduce_then_close(worker):
            try:
                return worker.allreduce(np.full(3000, worker.rank + 1.0), 1)
            finally:
                worker.close()

        with futures.ThreadPoolExecutor(3) as pool:
            results = [job.result(timeout=60) for job in [pool.submit(allreduce_then_close, w) for w in workers]]
        for total, count in results:
            assert count == 3 and np.array_equal(total, np.full(3000, 6.0)), f"repeat {repeat}"
