"""One process of the training-throughput benchmark: the digits MLP or CNN, single or distributed.

    python benchmark/dist_training_worker.py --model cnn --mode single
    python -m matrixslow.dist.launch --mode allreduce --workers 2 benchmark/dist_training_worker.py --model cnn
    python -m matrixslow.dist.launch --mode ps --ps 1 --workers 2 benchmark/dist_training_worker.py --model mlp
    mpiexec -n 2 python benchmark/dist_training_worker.py --model cnn --mode mpi

Every worker trains on an equal shard of the training images (``--batch-size`` per worker and
step). Each epoch is timed, and so is every communication call made during it (the ring's
``allreduce``, the parameter server's ``push_pull``); compute is the rest of the epoch:
forward, backward, the optimizer update and the batching. Prints one ``BENCH_RESULT`` JSON line:
``{"rank", "workers", "samples", "steps", "epoch_seconds": [...], "comm_seconds": [...]}``.
"""

import argparse
import functools
import time

import numpy as np

import matrixslow as ms
from benchmark.dist_harness import emit
from matrixslow import datasets


def build(model_name, learning_rate):
    with ms.core.Graph() as graph:
        if model_name == "mlp":
            model = ms.model.dnn(64, [64, 32], 10, activation="ReLU")  # examples/dnn_digits.py
        else:
            model = ms.model.cnn((8, 8), 10, kernels=(16,), kernel_shape=(3, 3), hidden=(32,))  # cnn_digits.py
        optimizer = ms.optimizer.Adam(graph, model.loss, learning_rate)
    return model, optimizer


class Stopwatch:
    """Seconds spent in the wrapped calls, counted only while an epoch runs."""

    def __init__(self):
        self.running = False
        self.seconds = 0.0

    def wrap(self, method):
        @functools.wraps(method)
        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                if self.running:
                    self.seconds += time.perf_counter() - start

        return timed


def make_trainer(mode, model, optimizer, epochs, batch_size, seed, comm):
    arguments = (model.inputs, model.label, model.loss, optimizer, epochs)
    options = {"batch_size": batch_size, "seed": seed, "verbose": False}
    if mode == "single":
        return ms.trainer.SimpleTrainer(*arguments, **options), 0, 1
    from matrixslow.dist import cluster
    from matrixslow.dist.trainers import DistTrainerParameterServer, DistTrainerRingAllReduce

    if mode == "mpi":  # rank and world size from mpiexec
        trainer = DistTrainerRingAllReduce(*arguments, backend="mpi", **options)
        trainer.ring.allreduce = comm.wrap(trainer.ring.allreduce)
        return trainer, trainer.ring.rank, trainer.ring.world_size
    place = cluster.current()
    trainer_class = DistTrainerParameterServer if mode == "ps" else DistTrainerRingAllReduce
    trainer = trainer_class(*arguments, cluster_conf=place.cluster_conf, worker_index=place.index, **options)
    if mode == "ps":
        trainer.client.push_pull = comm.wrap(trainer.client.push_pull)  # a model too big for it pushes and pulls inside
    else:
        trainer.ring.allreduce = comm.wrap(trainer.ring.allreduce)
    return trainer, place.index, place.num_workers


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", choices=["mlp", "cnn"], required=True)
    parser.add_argument("--mode", choices=["single", "ps", "allreduce", "mpi"], required=True)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=0.005)
    args = parser.parse_args(argv)

    data = datasets.load_digits(seed=0)
    np.random.seed(0)
    model, optimizer = build(args.model, args.learning_rate)
    comm = Stopwatch()
    trainer, rank, workers = make_trainer(args.mode, model, optimizer, args.epochs, args.batch_size, 0, comm)
    per_worker = len(data.train_y) // workers  # equal shards: the same steps per epoch everywhere
    mine = np.random.default_rng(0).permutation(len(data.train_y))[rank * per_worker : (rank + 1) * per_worker]
    x = data.train_x[mine].reshape(len(mine), -1) if args.model == "mlp" else data.train_x[mine]

    epoch_seconds, comm_seconds = [], []
    train_one_epoch = trainer.train

    def timed_epoch(*epoch_args):
        comm.seconds, comm.running = 0.0, True
        start = time.perf_counter()
        try:
            return train_one_epoch(*epoch_args)
        finally:
            epoch_seconds.append(time.perf_counter() - start)
            comm.running = False
            comm_seconds.append(comm.seconds)

    trainer.train = timed_epoch
    try:
        trainer.train_and_eval(model.feed(x), datasets.one_hot(data.train_y[mine], 10))
    finally:
        if hasattr(trainer, "close"):
            trainer.close()
    steps = -(-len(mine) // args.batch_size)
    emit(
        {
            "rank": rank, "workers": workers, "samples": len(mine), "steps": steps,
            "epoch_seconds": epoch_seconds, "comm_seconds": comm_seconds,
        }
    )  # fmt: skip


if __name__ == "__main__":
    main()
