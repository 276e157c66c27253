"""The perceptron, the book's ADALINE (chapter 2), on the Wisconsin breast cancer data.

Shows the book's first model: a linear output w x + b, labels in {-1, 1}, the
perceptron loss (zero for a sample on the right side of the boundary) and a
Step prediction, trained with plain gradient descent.

Run: python examples/perceptron_breast_cancer.py [--epochs 30] [--quiet]
"""

import argparse
import logging

import numpy as np

import matrixslow as ms
from matrixslow import datasets


def parse_args(argv):
    parser = argparse.ArgumentParser(description="The perceptron (ADALINE) on breast cancer.")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--learning-rate", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0, help="seeds the weights and the shuffling")
    parser.add_argument("--quiet", action="store_true", help="no per-epoch log")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if not args.quiet:
        logging.basicConfig(level=logging.INFO, format="%(message)s")
    np.random.seed(args.seed)  # the weights start from NumPy's global generator
    data = datasets.load_breast_cancer()  # label 1 = benign, 0 = malignant
    # The perceptron loss reads label * output, so the classes must be -1 and +1.
    train_y, test_y = 2 * data.train_y - 1, 2 * data.test_y - 1

    with ms.core.Graph() as graph:
        model = ms.model.perceptron(data.train_x.shape[1])
        # predict = Step(output) is 1 for class +1 and 0 for class -1; the metrics count
        # a prediction of 1 as the positive class and read labels in {-1, 1}.
        accuracy = ms.ops.metrics.Accuracy(model.predict, model.label)
        recall = ms.ops.metrics.Recall(model.predict, model.label)
        optimizer = ms.optimizer.GradientDescent(graph, model.loss, args.learning_rate)
        trainer = ms.trainer.SimpleTrainer(
            model.inputs,
            model.label,
            model.loss,
            optimizer,
            epoches=args.epochs,
            batch_size=args.batch_size,
            eval_on_train=True,
            metrics_ops=[accuracy, recall],
            print_iteration_interval=0,
            verbose=not args.quiet,
            seed=args.seed,
        )
        trainer.train_and_eval(model.feed(data.train_x), train_y, model.feed(data.test_x), test_y)

    last = trainer.history[-1]
    metrics = {"recall": last["Recall"], "accuracy": last["Accuracy"]}
    print(f"test recall: {metrics['recall']:.4f}")
    print(f"test accuracy: {metrics['accuracy']:.4f}")
    return metrics


if __name__ == "__main__":
    main()
