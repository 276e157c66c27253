"""A factorization machine on the Titanic passengers: who survived?

Shows the FM of Rendle (2010): a linear model plus a learned k-dimensional vector
per feature, whose dot products weigh every pair of features (sex x class, age x
class, ...). The table comes in fields (one-hot "pclass" and "sex", numeric "age",
...), one input node per field.

Run: python examples/fm_titanic.py [--epochs 60] [--k 4] [--quiet]
"""

import argparse
import logging

import numpy as np

import matrixslow as ms
from matrixslow import datasets


def parse_args(argv):
    parser = argparse.ArgumentParser(description="A factorization machine on Titanic.")
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--k", type=int, default=4, help="latent factors per feature")
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
    data = datasets.load_titanic()  # 9 columns in 6 fields, label 1 = survived
    for field, columns in data.fields.items():
        print(f"field {field}: columns {[data.feature_names[column] for column in columns]}")

    with ms.core.Graph() as graph:
        model = ms.model.factorization_machine(data.train_x.shape[1], args.k, fields=data.fields)
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
        # feed splits the (N, 9) table by field: {"pclass": (N, 3, 1), "sex": (N, 2, 1), "age": (N, 1, 1), ...}.
        trainer.train_and_eval(model.feed(data.train_x), data.train_y, model.feed(data.test_x), data.test_y)

    last = trainer.history[-1]
    metrics = {"auc": last["ROC_AUC"], "accuracy": last["Accuracy"]}
    print(f"test auc: {metrics['auc']:.4f}")
    print(f"test accuracy: {metrics['accuracy']:.4f}")
    return metrics


if __name__ == "__main__":
    main()
