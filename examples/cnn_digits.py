"""A convolutional network (book chapter 8) on handwritten digits: 8x8 images, ten classes.

Shows ``ms.layer.conv`` and ``ms.layer.pooling`` at work (through ``ms.model.cnn``):
each image goes in as an 8x8 matrix, sixteen 3x3 kernels make sixteen feature maps,
max pooling halves them to 4x4, and fully connected layers classify.

Run: python examples/cnn_digits.py [--epochs 20] [--kernels 16] [--quiet]
"""

import argparse
import logging

import numpy as np

import matrixslow as ms
from matrixslow import datasets


def parse_args(argv):
    parser = argparse.ArgumentParser(description="A ConvNet on 8x8 digits.")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--kernels", type=int, default=16, help="kernels of the convolution layer")
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
        # Unlike the fully connected network, x is the image itself: an (8, 8) matrix.
        model = ms.model.cnn(
            (8, 8), classes, kernels=(args.kernels,), kernel_shape=(3, 3), pooling=((3, 3), (2, 2)), hidden=(32,)
        )
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
