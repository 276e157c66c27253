"""A fully connected network (book chapter 5) on handwritten digits: 8x8 images, ten classes.

Shows a deep model built from ``ms.layer.fc`` layers (``ms.model.dnn``) fed with
images flattened to 64-value columns, and multi-class metrics.

Run: python examples/dnn_digits.py [--epochs 30] [--hidden 64 32] [--quiet]
"""

import argparse
import logging

import numpy as np

import matrixslow as ms
from matrixslow import datasets


def parse_args(argv):
    parser = argparse.ArgumentParser(description="A fully connected network on 8x8 digits.")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--hidden", type=int, nargs="*", default=[64, 32], help="widths of the hidden layers")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=0.005)
    parser.add_argument("--seed", type=int, default=0, help="seeds the weights and the shuffling")
    parser.add_argument("--quiet", action="store_true", help="no per-epoch log")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if not args.quiet:
        logging.basicConfig(level=logging.INFO, format="%(message)s")
    np.random.seed(args.seed)  # the weights start from NumPy's global generator
    data = datasets.load_digits()  # (N, 8, 8) pixels in [0, 1], labels 0-9
    classes = data.num_classes
    train_y = datasets.one_hot(data.train_y, classes)
    test_y = datasets.one_hot(data.test_y, classes)

    with ms.core.Graph() as graph:
        # x is a (64, 1) column: feed reshapes each 8x8 image into it, row by row.
        model = ms.model.dnn(64, args.hidden, classes, activation="ReLU")
        accuracy = ms.ops.metrics.Accuracy(model.predict, model.label)
        f1 = ms.ops.metrics.F1Score(model.predict, model.label)
        optimizer = ms.optimizer.Adam(graph, model.loss, args.learning_rate)
        trainer = ms.trainer.SimpleTrainer(
            model.inputs,
            model.label,
            model.loss,
            optimizer,
            epoches=args.epochs,
            batch_size=args.batch_size,
            eval_on_train=True,
            metrics_ops=[accuracy, f1],
            print_iteration_interval=0,
            verbose=not args.quiet,
            seed=args.seed,
        )
        trainer.train_and_eval(model.feed(data.train_x), train_y, model.feed(data.test_x), test_y)

    last = trainer.history[-1]
    metrics = {"f1": last["F1Score"], "accuracy": last["Accuracy"]}
    print(f"test macro f1: {metrics['f1']:.4f}")
    print(f"test accuracy: {metrics['accuracy']:.4f}")
    return metrics


if __name__ == "__main__":
    main()
