"""Export a trained model to ONNX and run it in onnxruntime: a fully connected network on 8x8 digits.

Shows ``matrixslow.onnx.export(model, path)``: the file's inputs are named as the model's
input nodes, with a symbolic batch dimension, so ``model.feed(x)`` is already a valid
onnxruntime feed (cast to the graph's float type). Needs onnx and onnxruntime
(``pip install -e ".[onnx]" onnxruntime``, or the ``test`` extra).

Run: python examples/onnx_export.py [--epochs 10] [--out DIR] [--quiet]
"""

import argparse
import logging
import tempfile
from pathlib import Path

import numpy as np
import onnxruntime

import matrixslow as ms
import matrixslow.onnx
from matrixslow import datasets


def parse_args(argv):
    parser = argparse.ArgumentParser(description="Train a DNN on digits, export it to ONNX, run it in onnxruntime.")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--out", help="write digits_dnn.onnx into this directory (default: a temporary one)")
    parser.add_argument("--seed", type=int, default=0, help="seeds the weights and the shuffling")
    parser.add_argument("--quiet", action="store_true", help="no per-epoch log")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if not args.quiet:
        logging.basicConfig(level=logging.INFO, format="%(message)s")
    np.random.seed(args.seed)  # the weights start from NumPy's global generator
    data = datasets.load_digits()
    train_y = datasets.one_hot(data.train_y, data.num_classes)

    with ms.core.Graph() as graph:
        model = ms.model.dnn(64, [64, 32], data.num_classes)
        optimizer = ms.optimizer.Adam(graph, model.loss, 0.005)
        trainer = ms.trainer.SimpleTrainer(
            model.inputs,
            model.label,
            model.loss,
            optimizer,
            epoches=args.epochs,
            batch_size=32,
            print_iteration_interval=0,
            verbose=not args.quiet,
            seed=args.seed,
        )
        trainer.train_and_eval(model.feed(data.train_x), train_y)
        test_x = model.feed(data.test_x)
        engine = trainer.predict(test_x, model.predict)

    with tempfile.TemporaryDirectory() as scratch:
        path = Path(args.out or scratch) / "digits_dnn.onnx"
        path.parent.mkdir(parents=True, exist_ok=True)
        ms.onnx.export(model, path)  # inputs: model.inputs ("x"); output: model.predict ("predict")
        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        (predictions,) = session.run(None, {name: batch.astype(graph.dtype) for name, batch in test_x.items()})

    accuracy = float(np.mean(predictions.argmax(axis=1)[:, 0] == data.test_y))
    difference = float(np.abs(predictions - engine).max())
    print(f"{path.name}: onnxruntime's inputs {[(i.name, i.shape) for i in session.get_inputs()]}")
    print(f"largest difference from the engine's predictions: {difference:.2e}")
    print(f"test accuracy: {accuracy:.4f}")
    return {"accuracy": accuracy, "max_difference": difference}


if __name__ == "__main__":
    main()
