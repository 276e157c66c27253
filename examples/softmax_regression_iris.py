"""Softmax regression (book chapter 4) on Fisher's iris: three species from four measurements.

Shows a multi-class model: one-hot labels, a SoftMax output, cross-entropy, and
metrics over score columns (precision and recall are macro averages).

Run: python examples/softmax_regression_iris.py [--epochs 50] [--quiet]
"""

import argparse
import logging

import numpy as np

import matrixslow as ms
from matrixslow import datasets


def parse_args(argv):
    parser = argparse.ArgumentParser(description="Softmax regression on iris.")
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--learning-rate", type=float, default=0.02)
    parser.add_argument("--seed", type=int, default=0, help="seeds the weights and the shuffling")
    parser.add_argument("--quiet", action="store_true", help="no per-epoch log")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if not args.quiet:
        logging.basicConfig(level=logging.INFO, format="%(message)s")
    np.random.seed(args.seed)  # the weights start from NumPy's global generator
    data = datasets.load_iris()  # 4 standardised measurements, labels 0, 1, 2
    classes = data.num_classes
    # The label node is a (3, 1) one-hot column per sample.
    train_y = datasets.one_hot(data.train_y, classes)
    test_y = datasets.one_hot(data.test_y, classes)

    with ms.core.Graph() as graph:
        model = ms.model.softmax_regression(data.train_x.shape[1], classes)
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
