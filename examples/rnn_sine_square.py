"""A recurrent network (book chapter 7) tells noisy sine waves from noisy square waves.

Shows an Elman RNN unrolled over 32 time steps (``ms.model.rnn``): one input node
per step, the same weights U, W and b shared by every step, and the class read
from the last hidden state. The waves are generated here, so nothing is downloaded.

Run: python examples/rnn_sine_square.py [--epochs 40] [--hidden-size 12] [--quiet]
"""

import argparse
import logging

import numpy as np

import matrixslow as ms
from matrixslow import datasets


def parse_args(argv):
    parser = argparse.ArgumentParser(description="An RNN classifies sine and square waves.")
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--hidden-size", type=int, default=12)
    parser.add_argument("--activation", choices=["Tanh", "ReLU"], default="Tanh")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--learning-rate", type=float, default=0.005)
    parser.add_argument("--seed", type=int, default=0, help="seeds the weights and the shuffling")
    parser.add_argument("--quiet", action="store_true", help="no per-epoch log")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if not args.quiet:
        logging.basicConfig(level=logging.INFO, format="%(message)s")
    np.random.seed(args.seed)  # the weights start from NumPy's global generator
    data = datasets.load_sine_square(n=1000, length=32)  # x: (N, 32 steps, 1 value), 0 = sine, 1 = square
    steps, features = data.sample_shape
    train_y = datasets.one_hot(data.train_y, 2)
    test_y = datasets.one_hot(data.test_y, 2)

    with ms.core.Graph() as graph:
        model = ms.model.rnn(steps, features, args.hidden_size, 2, activation=args.activation)
        accuracy = ms.ops.metrics.Accuracy(model.predict, model.label)
        optimizer = ms.optimizer.Adam(graph, model.loss, args.learning_rate)
        trainer = ms.trainer.SimpleTrainer(
            model.inputs,  # x_0 ... x_31, one input node per step
            model.label,
            model.loss,
            optimizer,
            epoches=args.epochs,
            batch_size=args.batch_size,
            eval_on_train=True,
            metrics_ops=[accuracy],
            print_iteration_interval=0,
            verbose=not args.quiet,
            seed=args.seed,
        )
        # feed cuts each (N, 32, 1) array into {"x_0": (N, 1, 1), ..., "x_31": (N, 1, 1)}.
        trainer.train_and_eval(model.feed(data.train_x), train_y, model.feed(data.test_x), test_y)

    metrics = {"accuracy": trainer.history[-1]["Accuracy"]}
    print(f"test accuracy: {metrics['accuracy']:.4f}")
    return metrics


if __name__ == "__main__":
    main()
