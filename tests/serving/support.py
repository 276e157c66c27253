"""Helpers for the serving tests: export small models, and run ``python -m matrixslow.serving`` in a subprocess.

Every server runs on free loopback ports, is waited for through its grpc.health.v1 service
(generously: the machine may be busy), and is always stopped (SIGTERM, then kill).
"""

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

import matrixslow as ms
from matrixslow import serving
from matrixslow.dist.launch import free_loopback_addresses

REPO = Path(__file__).resolve().parents[2]
READY_SECONDS = 60.0
STOP_SECONDS = 30.0


def export(directory, version, build, seed=0):
    """Build a model with weights from ``seed``, save it as ``directory/version``; return (graph, model).

    The signature names every model input and the "predict" node.
    """
    np.random.seed(seed)
    with ms.core.Graph() as graph:
        model = build()
        signature = serving.Exporter(graph).signature([node.name for node in model.inputs], model.predict.name)
        ms.trainer.Saver(Path(directory) / str(version)).save(graph, meta={"seed": seed}, service_signature=signature)
    return graph, model


def two_input_model():
    """x (4, 1) and y (2, 1) -> scaled (2, 1) = SoftMax(W x) * y: a model of two inputs, for ``export``."""
    model = ms.model.dnn(4, [3], 2)
    y = ms.Variable((2, 1), init=False, trainable=False, name="y")
    product = ms.ops.Multiply(model.predict, y, name="scaled")

    class TwoInputs:
        inputs, predict = [model.inputs[0], y], product

    return TwoInputs


def local_forward(model, feed):
    """The in-process forward pass: set ``feed`` ({input name: batch}) into the model's own graph."""
    for node in model.inputs:
        node.set_value(feed[node.name])
    return model.predict.forward().copy()


def wait_until(condition, timeout, message):
    """Poll ``condition()`` until it is truthy; fail with ``message`` after ``timeout`` seconds."""
    give_up_at = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > give_up_at:
            raise AssertionError(f"{message} (waited {timeout:g} s)")
        time.sleep(0.05)


class ServerProcess:
    """``python -m matrixslow.serving`` on free ports; ``address`` (gRPC) and ``http`` ("host:port") once started."""

    def __init__(self, model_dir, log_dir, *flags, http=True):
        grpc_address, http_address = free_loopback_addresses(2)
        self.address = grpc_address
        self.http = http_address if http else None
        self.command = [sys.executable, "-m", "matrixslow.serving", "--model-dir", str(model_dir)]
        self.command += ["--port", grpc_address.rsplit(":", 1)[1]]
        if http:
            self.command += ["--http-port", http_address.rsplit(":", 1)[1]]
        self.command += [str(flag) for flag in flags]
        self.log_path = Path(log_dir) / f"server-{grpc_address.rsplit(':', 1)[1]}.log"
        self.process = None

    def start(self):
        with open(self.log_path, "wb") as log:
            env = {**os.environ, "PYTHONUNBUFFERED": "1"}
            self.process = subprocess.Popen(self.command, stdout=log, stderr=subprocess.STDOUT, cwd=REPO, env=env)
        try:
            with serving.Client(self.address) as client:
                client.wait_until_serving(READY_SECONDS, self.process)
        except (TimeoutError, RuntimeError) as error:
            raise AssertionError(f"{error}: {self.log()}") from None
        return self

    def client(self, **kwargs):
        return serving.Client(self.address, **kwargs)

    def terminate(self):
        """SIGTERM and wait; returns the exit status."""
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(STOP_SECONDS)

    def stop(self):
        if self.process is None or self.process.poll() is not None:
            return
        try:
            self.terminate()
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(STOP_SECONDS)

    def log(self):
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@contextlib.contextmanager
def running_server(model_dir, log_dir, *flags, http=True):
    server = ServerProcess(model_dir, log_dir, *flags, http=http)
    try:
        yield server.start()
    finally:
        server.stop()


def run_server_to_exit(model_dir, *flags, timeout=60.0, port=None):
    """Run ``python -m matrixslow.serving`` (on ``port``, else a free one) expecting it to refuse to start."""
    port = port or free_loopback_addresses(1)[0].rsplit(":", 1)[1]
    command = [sys.executable, "-m", "matrixslow.serving", "--model-dir", str(model_dir), "--port", str(port)]
    command += [str(flag) for flag in flags]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=REPO)
