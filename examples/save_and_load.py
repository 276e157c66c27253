"""Save a trained model and load it into a fresh graph, as a server would (book chapter 9).

Shows ``ms.trainer.Saver``: ``save`` writes the graph's structure (model.json) and
its weights (weights.npz) with a service signature naming the input and output
nodes; ``load`` into an empty ``ms.core.Graph()`` rebuilds every node from the file
alone, without the code that built it. The loaded graph must predict exactly what
the trained one does.

Run: python examples/save_and_load.py [--epochs 50] [--dir model_dir]
"""

import argparse
import logging
import tempfile
from pathlib import Path

import numpy as np

import matrixslow as ms
from matrixslow import datasets


def parse_args(argv):
    parser = argparse.ArgumentParser(description="Save a trained network and load it into a fresh graph.")
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--dir", default=None, help="keep the model there (default: a temporary directory, removed)")
    parser.add_argument("--learning-rate", type=float, default=0.02)
    parser.add_argument("--seed", type=int, default=0, help="seeds the weights and the shuffling")
    parser.add_argument("--quiet", action="store_true", help="no per-epoch log")
    return parser.parse_args(argv)


def train(data, args):
    """Train a small network on iris in a graph of its own; returns the graph, the model and its test predictions."""
    with ms.core.Graph() as graph:
        model = ms.model.dnn(data.train_x.shape[1], [8], data.num_classes)
        optimizer = ms.optimizer.Adam(graph, model.loss, args.learning_rate)
        trainer = ms.trainer.SimpleTrainer(
            model.inputs,
            model.label,
            model.loss,
            optimizer,
            epoches=args.epochs,
            batch_size=16,
            print_iteration_interval=0,
            verbose=not args.quiet,
            seed=args.seed,
        )
        trainer.train_and_eval(model.feed(data.train_x), datasets.one_hot(data.train_y, data.num_classes))
        predictions = trainer.predict(model.feed(data.test_x), model.predict)
    return graph, model, predictions


def load_and_predict(model_dir, test_x):
    """What a server does: rebuild the saved graph, find its nodes by the signature's names, predict."""
    with ms.core.Graph() as fresh:
        meta, signature = ms.trainer.Saver(model_dir).load(fresh)
        x = ms.get_node_from_graph(signature["inputs"]["name"], graph=fresh)
        predict = ms.get_node_from_graph(signature["outputs"]["name"], graph=fresh)
        x.set_value(test_x.reshape(len(test_x), *x.dim))  # a batch of (4, 1) columns
        predict.forward()
    print(f"loaded {len(fresh.nodes)} nodes of a {meta['model']} trained on {meta['dataset']}; signature {signature}")
    return np.array(predict.value)


def main(argv=None):
    args = parse_args(argv)
    if not args.quiet:
        logging.basicConfig(level=logging.INFO, format="%(message)s")
    np.random.seed(args.seed)  # the weights start from NumPy's global generator
    data = datasets.load_iris()
    graph, model, trained = train(data, args)

    with tempfile.TemporaryDirectory(prefix="matrixslow_model_") as scratch:
        model_dir = Path(args.dir or scratch)
        # The signature tells whoever loads the model which node takes the input and which gives the answer.
        signature = {"inputs": {"name": model.inputs[0].name}, "outputs": {"name": model.predict.name}}
        ms.trainer.Saver(model_dir).save(graph, meta={"dataset": "iris", "model": "dnn"}, service_signature=signature)
        for path in (model_dir / "model.json", model_dir / "weights.npz"):
            print(f"saved {path.name} ({path.stat().st_size} bytes)" + (f" in {model_dir}" if args.dir else ""))
        loaded = load_and_predict(model_dir, data.test_x)

    difference = float(np.max(np.abs(loaded - trained)))
    same_classes = np.array_equal(loaded.argmax(axis=1), trained.argmax(axis=1))
    if difference > 1e-12 or not same_classes:
        raise SystemExit(f"the loaded model predicts differently: largest difference {difference:g}")

    print("test flower  species     P(trained model)      P(loaded model)")
    for index in range(0, len(loaded), 8):
        species = data.classes[int(loaded[index].argmax())]
        print(f"{index:11d}  {species:10s}  {_probabilities(trained[index])}  {_probabilities(loaded[index])}")
    print(f"largest difference between trained and loaded probabilities over {len(loaded)} flowers: {difference:g}")

    accuracy = float(np.mean(loaded.argmax(axis=1)[:, 0] == data.test_y))
    metrics = {"max_difference": difference, "accuracy": accuracy}
    print(f"test accuracy: {accuracy:.4f}")
    return metrics


def _probabilities(column):
    return " ".join(f"{p:.3f}" for p in column[:, 0])


if __name__ == "__main__":
    main()
