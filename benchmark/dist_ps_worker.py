"""One worker of the parameter-server benchmark: time push + pull of a model of a given size.

    python -m matrixslow.dist.launch --mode ps --ps 2 --workers 2 benchmark/dist_ps_worker.py --size 1048576

The model is ``--variables`` float32 variables of equal size (a parameter server shards by
variable, so one huge variable could not be split). Every timed step is a synchronous push of
gradient sums followed by the pull of their mean; the pull waits for every worker's push, so
the steps keep the workers in step without another barrier. A shard serves one set of variables
for its life, so each size is a launch of its own. Prints one ``BENCH_RESULT`` JSON line:
``{"rank", "bytes", "seconds": [...], "push_seconds": [...], "busy_cores"}``, the last being how many
of the machine's cores were busy (any process) on average over the timed steps.
"""

import argparse
import time

import numpy as np

from benchmark.dist_harness import emit
from benchmark.machine import busy_cores, cpu_times
from matrixslow.dist import cluster
from matrixslow.dist.ps import ParameterServerClient

RPC_TIMEOUT_SECONDS = 60.0


def model_of(nbytes, variables, rank):
    """``variables`` equal float32 arrays named ``w00``, ``w01``, ... that add up to ``nbytes``."""
    per_variable = nbytes // 4 // variables
    return {f"w{index:02d}": np.full(per_variable, rank + 1, dtype=np.float32) for index in range(variables)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, required=True, help="model size in bytes")
    parser.add_argument("--repeats", type=int, required=True, help="timed steps")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--variables", type=int, default=8)
    args = parser.parse_args(argv)

    place = cluster.current()
    model = model_of(args.size, args.variables, place.index)
    client = ParameterServerClient(
        place.cluster_conf["ps"], place.index, rpc_timeout=RPC_TIMEOUT_SECONDS, step_timeout=RPC_TIMEOUT_SECONDS
    )
    client.init(model)
    seconds, push_seconds = [], []
    for step in range(args.warmup + args.repeats):
        if step == args.warmup:
            ticks_before = cpu_times()
        start = time.perf_counter()
        client.push(step, model, 1)
        pushed = time.perf_counter()
        client.pull(step)
        done = time.perf_counter()
        if step >= args.warmup:
            seconds.append(done - start)
            push_seconds.append(pushed - start)
    busy = busy_cores(ticks_before, cpu_times())
    client.close()
    result = {"rank": place.index, "bytes": args.size, "seconds": seconds, "push_seconds": push_seconds}
    emit({**result, "busy_cores": busy})


if __name__ == "__main__":
    main()
