"""Linear regression on the diabetes data: disease progression one year on, from ten measurements.

Shows a regression model (mean squared error, no metric nodes needed) and how to
run a trained node over a data set with ``trainer.predict`` to score it: R² and the
error in the target's own units.

Run: python examples/linear_regression_diabetes.py [--epochs 100] [--quiet]
"""

import argparse
import logging

import numpy as np

import matrixslow as ms
from matrixslow import datasets


def parse_args(argv):
    parser = argparse.ArgumentParser(description="Linear regression on diabetes.")
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=0.01)
    parser.add_argument("--seed", type=int, default=0, help="seeds the weights and the shuffling")
    parser.add_argument("--quiet", action="store_true", help="no per-epoch log")
    return parser.parse_args(argv)


def r_squared(predicted, target):
    """The coefficient of determination: 1 - residual sum of squares / total sum of squares."""
    residual = np.sum((target - predicted) ** 2)
    total = np.sum((target - target.mean()) ** 2)
    return 1.0 - residual / total


def main(argv=None):
    args = parse_args(argv)
    if not args.quiet:
        logging.basicConfig(level=logging.INFO, format="%(message)s")
    np.random.seed(args.seed)  # the weights start from NumPy's global generator
    data = datasets.load_diabetes()  # features and target standardised with the train part's statistics

    with ms.core.Graph() as graph:
        model = ms.model.linear_regression(data.train_x.shape[1])
        optimizer = ms.optimizer.Adam(graph, model.loss, args.learning_rate)
        trainer = ms.trainer.SimpleTrainer(
            model.inputs,
            model.label,
            model.loss,
            optimizer,
            epoches=args.epochs,
            batch_size=args.batch_size,
            eval_on_train=True,  # no metrics: the test loss (val_loss) is logged every epoch
            print_iteration_interval=0,
            verbose=not args.quiet,
            seed=args.seed,
        )
        trainer.train_and_eval(model.feed(data.train_x), data.train_y, model.feed(data.test_x), data.test_y)
        # (N, 1, 1): one 1x1 prediction per patient.
        predicted = trainer.predict(model.feed(data.test_x), model.predict).reshape(-1)

    # The target was standardised; back in its own units the error reads as disease progression.
    rmse = float(np.sqrt(np.mean((predicted - data.test_y) ** 2))) * data.target_std
    metrics = {"rmse": rmse, "r2": float(r_squared(predicted, data.test_y))}
    print(f"test rmse: {metrics['rmse']:.2f}")
    print(f"test r2: {metrics['r2']:.4f}")
    return metrics


if __name__ == "__main__":
    main()
