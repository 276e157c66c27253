"""Train the digits MLP, export it, serve it with ``python -m matrixslow.serving``, and ask the server for the test set.

The whole round trip of matrixslow serving in one script:

1. train ``ms.model.dnn`` on the 8x8 digits for a few epochs;
2. save it as version 1 of a model directory, with the signature ``serving.Exporter`` makes;
3. start the server in a subprocess on a free port and wait for its health check;
4. send the test images through ``serving.Client`` (one batched request, then a few single
   samples) and check the served predictions against the in-process ones;
5. stop the server with SIGTERM (it finishes what is in flight and exits 0).

Run: python examples/serving/serve_digits.py [--epochs 10] [--seed 0] [--quiet] [--model-dir DIR]
"""

import argparse
import logging
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

import matrixslow as ms
from matrixslow import datasets, serving
from matrixslow.dist.launch import free_loopback_addresses


def parse_args(argv):
    parser = argparse.ArgumentParser(description="Train, export, serve and query the digits MLP.")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0, help="seeds the weights and the shuffling")
    parser.add_argument("--quiet", action="store_true", help="no per-epoch log")
    parser.add_argument("--model-dir", default=None, help="where to save the versions (default: a temporary directory)")
    return parser.parse_args(argv)


def train_and_export(data, model_dir, args):
    """Train the MLP and save it as ``model_dir/1``; returns its in-process predictions on the test set."""
    np.random.seed(args.seed)
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
        classes = data.num_classes
        train_y, test_y = datasets.one_hot(data.train_y, classes), datasets.one_hot(data.test_y, classes)
        trainer.train_and_eval(model.feed(data.train_x), train_y, model.feed(data.test_x), test_y)
        signature = serving.Exporter(graph).signature(model.inputs[0].name, model.predict.name)
        ms.trainer.Saver(Path(model_dir) / "1").save(graph, meta={"dataset": "digits"}, service_signature=signature)
        model.inputs[0].set_value(model.feed(data.test_x)["x"])
        return model.predict.forward().copy()


def start_server(model_dir, quiet):
    (address,) = free_loopback_addresses(1)
    command = [
        sys.executable,
        "-m",
        "matrixslow.serving",
        "--model-dir",
        str(model_dir),
        "--port",
        address.rsplit(":", 1)[1],
    ]
    command += ["--log-level", "WARNING" if quiet else "INFO"]
    process = subprocess.Popen(command)
    try:
        with serving.Client(address) as client:
            client.wait_until_serving(60, process)
    except TimeoutError:
        process.kill()
        raise
    return process, address


def main(argv=None):
    args = parse_args(argv)
    if not args.quiet:
        logging.basicConfig(level=logging.INFO, format="%(message)s")
    data = datasets.load_digits()
    with tempfile.TemporaryDirectory() as scratch:
        model_dir = Path(args.model_dir or Path(scratch) / "digits")
        local = train_and_export(data, model_dir, args)
        process, address = start_server(model_dir, args.quiet)
        try:
            with serving.Client(address, timeout=60) as client:
                if not args.quiet:
                    print(f"serving {client.status()['model_name']} version {client.status()['version']} on {address}")
                images = data.test_x.reshape(len(data.test_x), 64, 1)  # the (64, 1) column the input takes
                served = client.predict({"x": images})["predict"]
                singles = [client.predict({"x": image})["predict"] for image in images[:5]]
        finally:
            process.send_signal(signal.SIGTERM)
            status = process.wait(60)
    np.testing.assert_allclose(served, local, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(np.stack(singles), local[:5], rtol=1e-12, atol=1e-15)
    accuracy = float(np.mean(served[:, :, 0].argmax(axis=1) == data.test_y))
    if not args.quiet:
        print(f"server exited with status {status}")
    print(f"test accuracy: {accuracy:.4f}")
    return {"accuracy": accuracy, "server_exit_status": status}


if __name__ == "__main__":
    main()
