"""Distributed training of a small MLP on synthetic data; run it through the launcher.

    python -m matrixslow.dist.launch --mode allreduce --workers 2 examples/distributed/dist_mlp.py
    python -m matrixslow.dist.launch --mode ps --ps 1 --workers 2 examples/distributed/dist_mlp.py --epochs 3

Each worker trains on its own shard of a synthetic 3-class problem with the trainer that fits
the launch mode (ring allreduce, or parameter server), then prints the SHA-256 of its final
weights: synchronous data parallelism leaves every worker with the very same weights. The final
loss it prints is the loss those weights give on every worker's samples, so an interrupted and
resumed job prints the figure of an unbroken one. Run again with the same ``--checkpoint-dir``
once finished, the job trains nothing and says so.
"""

import argparse
import sys
import time

import numpy as np

import matrixslow as ms
from matrixslow.dist import cluster
from matrixslow.dist.trainers import DistTrainerParameterServer, DistTrainerRingAllReduce, weights_checksum

FEATURES, HIDDEN, CLASSES = 4, 8, 3


def synthetic_shard(index, samples):
    """Worker ``index``'s samples: three Gaussian blobs, drawn from a seed of its own."""
    rng = np.random.default_rng(1000 + index)
    labels = rng.integers(0, CLASSES, samples)
    centres = np.eye(CLASSES, FEATURES) * 3
    features = centres[labels] + rng.normal(size=(samples, FEATURES))
    return features, np.eye(CLASSES)[labels]


def build_mlp(seed, hidden=HIDDEN):
    """Input, label and loss nodes of a two-layer perceptron; weights drawn from ``seed``."""
    np.random.seed(seed)  # a different start on every worker: the trainer syncs it to worker 0's
    with ms.core.Graph() as graph:
        x = ms.Variable(dim=(FEATURES, 1), init=False, trainable=False, name="x")
        y = ms.Variable(dim=(CLASSES, 1), init=False, trainable=False, name="y")
        hidden_layer = ms.layer.fc(x, FEATURES, hidden, "Tanh")
        logits = ms.layer.fc(hidden_layer, hidden, CLASSES, None)
        loss = ms.ops.loss.CrossEntropyWithSoftMax(logits, y)
    return graph, x, y, loss


def slow_down(trainer, seconds):
    """Make every step of ``trainer`` take ``seconds`` longer, so that a test can stop a job mid-training."""
    update = trainer._optimizer_update

    def slow_update():
        time.sleep(seconds)
        update()

    trainer._optimizer_update = slow_update


def finished_line(trainer, checkpoint_dir):
    """The one line a rerun of a finished job prints instead of training."""
    if trainer.resume_step == trainer.last_step:
        where = f"{checkpoint_dir} holds its last step, {trainer.last_step}"
    else:
        where = f"{checkpoint_dir} holds step {trainer.resume_step}, past its last step {trainer.last_step}"
    return f"job already finished: {where}; nothing trained, weights left as saved (more --epochs train on)"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--samples", type=int, default=64, help="samples per worker")
    parser.add_argument("--hidden", type=int, default=HIDDEN, help="hidden units (every worker must agree)")
    parser.add_argument("--learning-rate", type=float, default=0.05)
    parser.add_argument(
        "--optimizer", default="Adam", choices=["GradientDescent", "Momentum", "AdaGrad", "RMSProp", "Adam"]
    )
    parser.add_argument("--step-delay", type=float, default=0.0, help="seconds to sleep per step (fault tests)")
    args = parser.parse_args(argv)

    place = cluster.current()
    if place.role != cluster.WORKER:
        sys.exit(f"dist_mlp.py runs workers only; the launcher serves role {place.role!r} itself")
    trainer_class = DistTrainerParameterServer if place.mode == cluster.PS_MODE else DistTrainerRingAllReduce

    graph, x, y, loss = build_mlp(seed=place.index, hidden=args.hidden)
    optimizer = getattr(ms.optimizer, args.optimizer)(graph, loss, args.learning_rate)
    features, labels = synthetic_shard(place.index, args.samples)
    trainer = trainer_class(
        [x], y, loss, optimizer, args.epochs,
        batch_size=args.batch_size, seed=place.index, verbose=False, **place.trainer_options(),
    )  # fmt: skip
    print(f"{place.mode} worker {place.index} of {place.num_workers}: {len(labels)} samples", flush=True)
    if args.step_delay:
        slow_down(trainer, args.step_delay)
    try:
        trainer.train_and_eval({"x": features}, labels)
    finally:
        trainer.close()
    if trainer.already_finished:
        if place.index == 0:  # one line for the job: every worker holds the same checkpoint
            print(finished_line(trainer, place.checkpoint_dir), flush=True)
    else:
        if trainer.resume_step:
            print(f"resumed from checkpoint step {trainer.resume_step}", flush=True)
        print(f"trained to step {trainer.global_step}", flush=True)
    print(f"final loss {trainer.final_loss:.4f}", flush=True)
    print(f"weights sha256 {weights_checksum(graph)}", flush=True)


if __name__ == "__main__":
    main()
