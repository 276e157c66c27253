"""Logistic regression (book chapter 3) on the Wisconsin breast cancer data: benign or malignant?

Shows the book's training recipe with the model zoo: build the graph, add metric
nodes, hand everything to SimpleTrainer and call train_and_eval.

Run: python examples/logistic_regression_breast_cancer.py [--epochs 50] [--quiet]
"""

import argparse
import logging

import numpy as np

import matrixslow as ms
from matrixslow import datasets


def parse_args(argv):
    parser = argparse.ArgumentParser(description="Logistic regression on breast cancer.")
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=0.01)
    parser.add_argument("--seed", type=int, default=0, help="seeds the weights and the shuffling")
    parser.add_argument("--quiet", action="store_true", help="no per-epoch log")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if not args.quiet:
        logging.basicConfig(level=logging.INFO, format="%(message)s")
    np.random.seed(args.seed)  # the weights start from NumPy's global generator
    data = datasets.load_breast_cancer()  # 30 standardised features, label 1 = benign

    with ms.core.Graph() as graph:
        model = ms.model.logistic_regression(data.train_x.shape[1])
        # Metrics are graph nodes too: the trainer feeds them the test set after every epoch.
        accuracy = ms.ops.metrics.Accuracy(model.predict, model.label)
        auc = ms.ops.metrics.ROC_AUC(model.predict, model.label)
        optimizer = ms.optimizer.Adam(graph, model.loss, args.learning_rate)
        trainer = ms.trainer.SimpleTrainer(
            model.inputs,
            model.label,
            model.loss,
            optimizer,
            epoches=args.epochs,
            batch_size=args.batch_size,
            eval_on_train=True,
            metrics_ops=[accuracy, auc],
            print_iteration_interval=0,
            verbose=not args.quiet,
            seed=args.seed,
        )
        # model.feed turns the (N, 30) table into {"x": (N, 30, 1)}, the batch the input node takes.
        trainer.train_and_eval(model.feed(data.train_x), data.train_y, model.feed(data.test_x), data.test_y)

    last = trainer.history[-1]
    metrics = {"auc": last["ROC_AUC"], "accuracy": last["Accuracy"]}
    print(f"test auc: {metrics['auc']:.4f}")
    print(f"test accuracy: {metrics['accuracy']:.4f}")
    return metrics


if __name__ == "__main__":
    main()
