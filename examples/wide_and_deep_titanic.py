"""Wide & Deep (Cheng et al. 2016) on the Titanic passengers: who survived?

Shows a two-part model: the "wide" part is a linear model over every column,
the "deep" part embeds each field into k numbers and feeds the embeddings
through ReLU layers; their outputs add up to the logit.

Run: python examples/wide_and_deep_titanic.py [--epochs 30] [--k 4] [--hidden 16 8] [--quiet]
"""

import argparse
import logging

import numpy as np

import matrixslow as ms
from matrixslow import datasets


def parse_args(argv):
    parser = argparse.ArgumentParser(description="Wide & Deep on Titanic.")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--k", type=int, default=4, help="embedding size of every field")
    parser.add_argument("--hidden", type=int, nargs="*", default=[16, 8], help="the deep part's layers")
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
    data = datasets.load_titanic()  # 9 columns in 6 fields, label 1 = survived

    with ms.core.Graph() as graph:
        model = ms.model.wide_and_deep(data.fields, args.k, args.hidden)
        accuracy = ms.ops.metrics.Accuracy(model.predict, model.label)
        auc = ms.ops.metrics.ROC_AUC(model.predict, model.label)
        optimizer = ms.optimizer.Adam(graph, model.loss, args.learning_rate)
        trainer = ms.trainer.SimpleTrainer(
            model.inputs,  # one input node per field, named after it
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
        trainer.train_and_eval(model.feed(data.train_x), data.train_y, model.feed(data.test_x), data.test_y)

    last = trainer.history[-1]
    metrics = {"auc": last["ROC_AUC"], "accuracy": last["Accuracy"]}
    print(f"test auc: {metrics['auc']:.4f}")
    print(f"test accuracy: {metrics['accuracy']:.4f}")
    return metrics


if __name__ == "__main__":
    main()
