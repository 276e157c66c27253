"""One worker of the allreduce benchmark: warm up, then time each repetition of one allreduce per size.

    python -m matrixslow.dist.launch --mode allreduce --workers 2 benchmark/dist_allreduce_worker.py --backend grpc
    mpiexec -n 2 python benchmark/dist_allreduce_worker.py --backend mpi

Before each timed repetition the workers meet at a barrier (MPI's, or a one-element ring
allreduce), so a repetition's time is the allreduce alone. Every backend writes into the same
result array every repetition (``out=``), as a training loop would, instead of a new one.
``--backend grpc-ceiling`` (launched like ``grpc``) runs ``grpc_ring_ceiling`` instead of the
ring. Prints one ``BENCH_RESULT`` JSON line:
``{"rank", "world_size", "sizes": {bytes: {"seconds": [...], "bytes_sent": int}}}``. With
``--profile BYTES`` rank 0 also profiles one more allreduce of that size (cProfile, to stderr).
"""

import argparse
import cProfile
import pstats
import sys
import time

import numpy as np

from benchmark.dist_harness import emit


def make_allreduce(backend):
    """The allreduce member for ``backend`` and a barrier across the workers."""
    if backend == "mpi":
        from matrixslow.dist.allreduce import MpiAllReduce

        worker = MpiAllReduce()
        return worker, worker.comm.Barrier
    from matrixslow.dist import cluster
    from matrixslow.dist.allreduce import RingAllReduce

    place = cluster.current()
    addresses = place.cluster_conf["workers"]
    if backend == "grpc-ceiling":
        from benchmark.grpc_ring_ceiling import RingTransferCeiling

        worker = RingTransferCeiling(place.index, addresses)
    else:
        worker = RingAllReduce(place.index, len(addresses), addresses[place.index], deadline=60)
        worker.connect(addresses)
    token = np.zeros(1)
    return worker, lambda: worker.allreduce(token, 0)


def time_allreduces(worker, barrier, buffer, repeats, warmup):
    result = np.empty_like(buffer)
    for _ in range(warmup):
        worker.allreduce(buffer, 1, out=result)
    seconds = []
    for _ in range(repeats):
        barrier()
        start = time.perf_counter()
        worker.allreduce(buffer, 1, out=result)
        seconds.append(time.perf_counter() - start)
    return seconds, worker.bytes_sent


def profile_one(worker, barrier, buffer):
    barrier()
    profile = cProfile.Profile()
    profile.runcall(worker.allreduce, buffer, 1)
    if worker.rank == 0:
        print(f"--- cProfile of one {buffer.nbytes / 2**20:g} MiB allreduce on rank 0 ---", file=sys.stderr)
        pstats.Stats(profile, stream=sys.stderr).sort_stats("tottime").print_stats(18)
        sys.stderr.flush()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backend", choices=["grpc", "grpc-ceiling", "mpi"], required=True)
    parser.add_argument("--sizes", type=int, nargs="+", required=True, help="buffer sizes in bytes")
    parser.add_argument("--repeats", type=int, nargs="+", required=True, help="timed repetitions, one per size")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--profile", type=int, metavar="BYTES", help="also profile one allreduce of this size")
    args = parser.parse_args(argv)

    worker, barrier = make_allreduce(args.backend)
    sizes = {}
    for nbytes, repeats in zip(args.sizes, args.repeats, strict=True):
        buffer = np.full(nbytes // 4, worker.rank + 1, dtype=np.float32)  # float32, like most gradients
        seconds, bytes_sent = time_allreduces(worker, barrier, buffer, repeats, args.warmup)
        sizes[str(nbytes)] = {"seconds": seconds, "bytes_sent": bytes_sent}
    if args.profile:
        profile_one(worker, barrier, np.ones(args.profile // 4, dtype=np.float32))
    barrier()
    worker.close()
    emit({"rank": worker.rank, "world_size": worker.world_size, "sizes": sizes})


if __name__ == "__main__":
    main()
