"""Pictures of training: the loss and metrics per epoch, a ROC curve, and the graph itself.

Shows ``matrixslow.viz``: builds a small network by hand, the book's way (two
``ms.layer.fc`` layers, a Logistic output and LogLoss), trains it on the breast
cancer data with an ROC metric node, then writes three PNG files:

- history.png: ``plot_history(trainer.history)``, the losses and metrics per epoch;
- roc.png: ``plot_roc`` of the ROC node's curve on the test set;
- graph.png: ``draw_graph``, every node with its type and shape, coloured by the
  size of its gradient after one backward pass.

Run: python examples/plot_training.py [--epochs 30] [--out pictures_dir]
"""

import argparse
import logging
import tempfile
from pathlib import Path

import numpy as np

import matrixslow as ms
from matrixslow import datasets
from matrixslow.viz import draw_graph, plot_history, plot_roc


def parse_args(argv):
    parser = argparse.ArgumentParser(description="Train a small network and draw pictures of it.")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--out", default=None, help="directory for the PNG files (default: a new temporary one)")
    parser.add_argument("--hidden", type=int, default=8, help="width of the hidden layer")
    parser.add_argument("--learning-rate", type=float, default=0.005)
    parser.add_argument("--seed", type=int, default=0, help="seeds the weights and the shuffling")
    parser.add_argument("--quiet", action="store_true", help="no per-epoch log")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if not args.quiet:
        logging.basicConfig(level=logging.INFO, format="%(message)s")
    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="matrixslow_pictures_"))
    out.mkdir(parents=True, exist_ok=True)
    np.random.seed(args.seed)  # the weights start from NumPy's global generator
    data = datasets.load_breast_cancer()  # 30 standardised features, label 1 = benign
    features = data.train_x.shape[1]

    with ms.core.Graph() as graph:
        # The graph, built by hand: a sample is a (30, 1) column and its label a (1, 1) matrix.
        x = ms.core.Variable(dim=(features, 1), init=False, trainable=False, name="x")
        label = ms.core.Variable(dim=(1, 1), init=False, trainable=False, name="label")
        with ms.name_scope("Hidden"):
            hidden = ms.layer.fc(x, features, args.hidden, "ReLU")
        with ms.name_scope("Output"):
            logit = ms.layer.fc(hidden, args.hidden, 1, None)
        predict = ms.ops.Logistic(logit, name="predict")
        loss = ms.ops.loss.LogLoss(logit, label, name="loss")  # labels in {0, 1}

        accuracy = ms.ops.metrics.Accuracy(predict, label)
        auc = ms.ops.metrics.ROC_AUC(predict, label)
        roc = ms.ops.metrics.ROC(predict, label)
        optimizer = ms.optimizer.Adam(graph, loss, args.learning_rate)
        trainer = ms.trainer.SimpleTrainer(
            [x],
            label,
            loss,
            optimizer,
            epoches=args.epochs,
            batch_size=32,
            eval_on_train=True,
            metrics_ops=[accuracy, auc, roc],
            print_iteration_interval=0,
            verbose=not args.quiet,
            seed=args.seed,
        )
        trainer.train_and_eval({"x": data.train_x}, data.train_y, {"x": data.test_x}, data.test_y)

        # The ROC node saw the whole test set in the last evaluation: its value is the curve.
        fpr, tpr, _ = roc.value
        # One forward and backward pass on a training batch, without an update, so that
        # every node has a gradient for the picture to show.
        x.set_value(data.train_x[:64, :, None])
        label.set_value(data.train_y[:64, None, None])
        optimizer.one_step()

        pictures = {"history": out / "history.png", "roc": out / "roc.png", "graph": out / "graph.png"}
        plot_history(trainer.history, path=pictures["history"])
        plot_roc(fpr, tpr, auc.value, path=pictures["roc"])
        draw_graph(graph, path=pictures["graph"])

    for what, path in pictures.items():
        print(f"{what}: {path}")
    last = trainer.history[-1]
    metrics = {"accuracy": last["Accuracy"], "auc": last["ROC_AUC"]}
    print(f"test accuracy: {metrics['accuracy']:.4f}")
    print(f"test auc: {metrics['auc']:.4f}")
    return metrics


if __name__ == "__main__":
    main()
