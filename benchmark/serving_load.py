"""What the serving benchmark needs: the digits models on disk, servers in subprocesses, and a load generator.

The load is closed-loop: ``clients`` requests are in flight at any time, and each answer
sends the next request, as ``clients`` users each waiting for their answer would. The
requests go out as pre-serialized bytes through gRPC futures from one thread, so the
load generator spends little CPU per request and does not need a thread per client (the
machine has two cores, shared with the server).

The v2 rows (the Open Inference Protocol) send the same sample as a ModelInferRequest with
``raw_input_contents`` over gRPC, and as tritonclient's binary body over HTTP/1.1 keep-alive.
"""

import contextlib
import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import grpc
import numpy as np

import matrixslow as ms
from matrixslow import serving
from matrixslow.codec.tensors import to_proto
from matrixslow.dist.launch import free_loopback_addresses
from matrixslow.serving.model_store import load_version
from matrixslow.serving.proto import serving_pb2
from matrixslow.serving.proto.v2 import inference_pb2

REPO = Path(__file__).resolve().parents[1]
READY_SECONDS = 60.0

# The digits models of examples/dnn_digits.py and examples/cnn_digits.py (8x8 images, 10 classes).
MODELS = {
    "mlp": (lambda: ms.model.dnn(64, [64, 32], 10), (64, 1)),
    "cnn": (
        lambda: ms.model.cnn((8, 8), 10, kernels=(16,), kernel_shape=(3, 3), pooling=((3, 3), (2, 2)), hidden=(32,)),
        (8, 8),
    ),
}


def export_model(root, name):
    """Save the model ``name`` as version 1 under ``root/name``; return the directory."""
    build, _ = MODELS[name]
    np.random.seed(0)
    with ms.core.Graph() as graph:
        model = build()
        signature = serving.Exporter(graph).signature(model.inputs[0].name, model.predict.name)
        ms.trainer.Saver(Path(root) / name / "1").save(graph, service_signature=signature)
    return Path(root) / name


def sample(name, batch=None, seed=0):
    _, dim = MODELS[name]
    shape = dim if batch is None else (batch, *dim)
    return np.random.default_rng(seed).random(shape)


def request_bytes(name):
    """One single-sample PredictRequest, serialized once."""
    return serving_pb2.PredictRequest(inputs={"x": to_proto(sample(name), "x")}).SerializeToString()


def v2_request_bytes(name):
    """The same single sample as a v2 ModelInferRequest (raw float64 contents), serialized once."""
    value = sample(name)
    request = inference_pb2.ModelInferRequest(model_name=name)
    request.inputs.add(name="x", datatype="FP64", shape=value.shape)
    request.raw_input_contents.append(value.astype("<f8").tobytes())
    return request.SerializeToString()


def v2_rest_body(name):
    """(body, headers) of the same single sample as a v2 REST binary request, as tritonclient.http sends it."""
    value = sample(name).astype("<f8")
    header = {
        "inputs": [{"name": "x", "datatype": "FP64", "shape": list(value.shape),
                    "parameters": {"binary_data_size": value.nbytes}}],
        "parameters": {"binary_data_output": True},
    }  # fmt: skip
    text = json.dumps(header).encode()
    headers = {"Inference-Header-Content-Length": str(len(text)), "Content-Type": "application/octet-stream"}
    return text + value.tobytes(), headers


def bare_forward(model_dir, name, batch):
    """A () -> None running the loaded model in-process on ``batch`` samples: the forward pass alone."""
    model = load_version(model_dir, 1)
    inputs = {"x": sample(name, batch=batch)}
    outputs = list(model.outputs)
    return lambda: model.run(inputs, outputs)


def server(model_dir, *flags, http=False):
    """``python -m matrixslow.serving`` on a free port; yields its gRPC address (with ``http``: the pair of
    gRPC and HTTP addresses); always stopped."""
    return _process_on_free_port(
        ["-m", "matrixslow.serving", "--model-dir", str(model_dir), "--log-level", "WARNING", *flags], http
    )


def noop_server():
    """``benchmark/grpc_noop_server.py``, answering what the digits models answer (10 classes); yields its address."""
    return _process_on_free_port(["-m", "benchmark.grpc_noop_server", "--output-shape", 10, 1])


@contextlib.contextmanager
def _process_on_free_port(arguments, http=False):
    address, http_address = free_loopback_addresses(2)
    command = [sys.executable, *map(str, arguments), "--port", address.rsplit(":", 1)[1]]
    if http:
        command += ["--http-port", http_address.rsplit(":", 1)[1]]
    process = subprocess.Popen(command, cwd=REPO, env=dict(os.environ, PYTHONUNBUFFERED="1"))
    try:
        with serving.Client(address) as client:
            client.wait_until_serving(READY_SECONDS, process)
        yield (address, http_address) if http else address
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(30)


class LoadGenerator:
    """Closed-loop load on one channel; ``run`` returns the per-request latencies in seconds."""

    def __init__(self, address, payload, method="/serving.ModelService/Predict"):
        self.channel = grpc.insecure_channel(address)
        self.call = self.channel.unary_unary(method)  # bytes in, bytes out
        self.payload = payload

    def run(self, clients, total, timeout=300.0):
        lock = threading.Lock()
        finished = threading.Event()
        latencies, errors = [], []
        state = {"issued": 0}

        def issue():
            with lock:
                if state["issued"] >= total:
                    return
                state["issued"] += 1
            started = time.perf_counter()
            future = self.call.future(self.payload, timeout=60)
            future.add_done_callback(lambda done: answered(done, started))

        def answered(done, started):
            latency = time.perf_counter() - started
            with lock:
                latencies.append(latency)
                if done.exception() is not None:
                    errors.append(done.exception())
                last = len(latencies) == total
            if last:
                finished.set()
            else:
                issue()

        for _ in range(clients):
            issue()
        if not finished.wait(timeout):
            raise RuntimeError(f"only {len(latencies)} of {total} requests answered in {timeout:g} s")
        if errors:
            raise RuntimeError(f"{len(errors)} requests failed, first: {errors[0]}")
        return latencies

    def close(self):
        self.channel.close()


V2_INFER = "/inference.GRPCInferenceService/ModelInfer"


class RestCaller:
    """One keep-alive HTTP connection posting a prepared v2 infer body: ``call`` as LoadGenerator's, for latency."""

    def __init__(self, address, name):
        host, port = address.rsplit(":", 1)
        self.connection = http.client.HTTPConnection(host, int(port), timeout=60)
        self.path = f"/v2/models/{name}/infer"
        self.payload = v2_rest_body(name)

    def call(self, payload, timeout=None):
        body, headers = payload
        self.connection.request("POST", self.path, body=body, headers=headers)
        response = self.connection.getresponse()
        answer = response.read()
        if response.status != 200:
            raise RuntimeError(f"POST {self.path}: {response.status} {answer[:200]!r}")
        return answer

    def run(self, clients, total):
        """Sequential calls only (the closed-loop gRPC load has no HTTP twin): ``clients`` must be 1."""
        if clients != 1:
            raise ValueError("RestCaller runs one client; the throughput rows are gRPC's")
        latencies = []
        for _ in range(total):
            started = time.perf_counter()
            self.call(self.payload)
            latencies.append(time.perf_counter() - started)
        return latencies

    def close(self):
        self.connection.close()
