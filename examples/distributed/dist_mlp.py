"""Distributed training of a small MLP on synthetic data; run it through the launcher.

    python -m matrixslow.dist.launch --mode allreduce --workers 2 examples/distributed/dist_mlp.py
    python -m matrixslow.dist.launch --mode ps --ps 1 --workers 2 examples/distributed/dist_mlp.py --epochs 3

Each worker trains on its own shard of a synthetic 3-class problem with the trainer that fits
the launch mode (ring allreduce, or parameter server), then prints the SHA-256 of its final
weights: synchronous data parallelism leaves every worker with the very same weights.
"""

import argparse
import hashlib
import sys

import numpy as np

import matrixslow as ms
from matrixslow.dist import cluster
from matrixslow.dist.trainers import DistTrainerParameterServer, DistTrainerRingAllReduce

FEATURES, HIDDEN, CLASSES = 4, 8, 3


def synthetic_shard(index, samples):
    """Worker ``index``'s samples: three Gaussian blobs, drawn from a seed of its own."""
    rng = np.random.default_rng(1000 + index)
    labels = rng.integers(0, CLASSES, samples)
    centres = np.eye(CLASSES, FEATURES) * 3
    features = centres[labels] + rng.normal(size=(samples, FEATURES))
    return features, np.eye(CLASSES)[labels]


def build_mlp(seed):
    """Input, label and loss nodes of a two-layer perceptron; weights drawn from ``seed``."""
    np.random.seed(seed)  # a different start on every worker: the trainer syncs it to worker 0's
    with ms.core.Graph() as graph:
        x = ms.Variable(dim=(FEATURES, 1), init=False, trainable=False, name="x")
        y = ms.Variable(dim=(CLASSES, 1), init=False, trainable=False, name="y")
        hidden = ms.layer.fc(x, FEATURES, HIDDEN, "Tanh")
        logits = ms.layer.fc(hidden, HIDDEN, CLASSES, None)
        loss = ms.ops.loss.CrossEntropyWithSoftMax(logits, y)
    return graph, x, y, loss


def weights_checksum(graph):
    """SHA-256 over every trainable weight, in name order, byte for byte."""
    digest = hashlib.sha256()
    for node in sorted((node for node in graph.nodes if getattr(node, "trainable", False)), key=lambda n: n.name):
        digest.update(node.name.encode())
        digest.update(np.ascontiguousarray(node.value, dtype=np.float64).tobytes())
    return digest.hexdigest()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--samples", type=int, default=64, help="samples per worker")
    parser.add_argument("--learning-rate", type=float, default=0.05)
    args = parser.parse_args(argv)

    place = cluster.current()
    if place.role != cluster.WORKER:
        sys.exit(f"dist_mlp.py runs workers only; the launcher serves role {place.role!r} itself")
    trainer_class = DistTrainerParameterServer if place.mode == cluster.PS_MODE else DistTrainerRingAllReduce

    graph, x, y, loss = build_mlp(seed=place.index)
    features, labels = synthetic_shard(place.index, args.samples)
    trainer = trainer_class(
        [x], y, loss, ms.optimizer.Adam(graph, loss, args.learning_rate), args.epochs,
        batch_size=args.batch_size, seed=place.index, verbose=False,
        cluster_conf=place.cluster_conf, worker_index=place.index,
    )  # fmt: skip
    print(f"{place.mode} worker {place.index} of {place.num_workers}: {len(labels)} samples", flush=True)
    try:
        trainer.train_and_eval({"x": features}, labels)
    finally:
        trainer.close()
    print(f"final loss {trainer.history[-1]['loss']:.4f}", flush=True)
    print(f"weights sha256 {weights_checksum(graph)}", flush=True)


if __name__ == "__main__":
    main()
