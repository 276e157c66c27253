"""The gRPC front end: bad input, malformed payloads, a full queue and expired deadlines, over the wire."""

import threading

import grpc
import numpy as np
import pytest

import matrixslow as ms
from matrixslow import serving
from matrixslow.codec.proto.tensor_pb2 import Tensor
from matrixslow.serving.proto import serving_pb2

from .support import export, local_forward, running_server, wait_until

EXPECTED = r"input 'x' takes one sample of shape \(4, 1\) or a batch of shape \(B, 4, 1\)"
MAX_REQUEST_BYTES = 4096


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    directory = tmp_path_factory.mktemp("grpc")
    _, model = export(directory / "m", 1, lambda: ms.model.dnn(4, [5], 3), seed=4)
    return directory, model


@pytest.fixture(scope="module")
def server(model_dir):
    directory, model = model_dir
    with running_server(directory / "m", directory, "--max-request-bytes", MAX_REQUEST_BYTES, http=False) as running:
        yield running, model


def assert_still_serving(server, model):
    x = np.random.default_rng(9).normal(size=(3, 4, 1))
    with server.client(timeout=30) as client:
        np.testing.assert_allclose(client.predict({"x": x})["predict"], local_forward(model, {"x": x}), rtol=1e-12)


def raw_tensor(dtype="float64", shape=(4, 1), data=None):
    data = np.zeros(int(np.prod(shape)), dtype=np.float64).tobytes() if data is None else data
    return Tensor(dtype=dtype, shape=shape, data=data)


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ({"x": np.zeros((4, 2))}, r"input 'x': got shape \(4, 2\); " + EXPECTED),
        ({"x": np.zeros((2, 1, 4))}, r"input 'x': got shape \(2, 1, 4\); " + EXPECTED),
        ({"x": np.zeros((4, 1), dtype=np.int32)}, r"input 'x': dtype int32 is not accepted; send float32 or float64"),
        ({"x": np.zeros((4, 1), dtype=np.uint8)}, r"input 'x': dtype uint8 is not accepted"),
        ({"img_input": np.zeros((4, 1))}, r"unknown input 'img_input'; the model's inputs are \['x'\]: " + EXPECTED),
        ({}, "empty request: no input tensors; " + EXPECTED),
        ({"x": np.zeros((0, 4, 1))}, r"input 'x': empty batch of shape \(0, 4, 1\); " + EXPECTED),
        ({"x": np.full((4, 1), np.inf)}, r"input 'x': values must be finite, got NaN or infinity \(" + EXPECTED),
        ({"x": np.zeros((200, 4, 1))}, rf"request too large: 6400 bytes .* limit of {MAX_REQUEST_BYTES} bytes"),
    ],
    ids=["shape", "transposed", "int32", "uint8", "name", "empty", "empty-batch", "inf", "oversized"],
)
def test_bad_input_is_invalid_argument_naming_the_input_and_shape(server, inputs, message):
    running, model = server
    with running.client(timeout=30) as client, pytest.raises(serving.ServingError, match=message) as error:
        client.predict(inputs)
    assert error.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert_still_serving(running, model)


def test_unknown_output_names_are_invalid_argument(server):
    running, _ = server
    with running.client(timeout=30) as client, pytest.raises(serving.ServingError, match="unknown output 'loss'"):
        client.predict({"x": np.zeros((4, 1))}, output_names=["loss"])


@pytest.mark.parametrize(
    ("tensor", "message"),
    [
        (raw_tensor(dtype="float128"), "unknown dtype 'float128'"),
        (raw_tensor(dtype=">f8"), "unknown dtype '>f8'"),
        (raw_tensor(data=b"\0" * 31), "31 data bytes do not match shape"),
        (raw_tensor(shape=(-4, 1), data=b""), "has a negative dimension"),
        (raw_tensor(shape=(2**40, 2**40, 1), data=b""), "0 data bytes do not match shape"),
    ],
)
def test_malformed_tensors_are_invalid_argument(server, tensor, message):
    running, model = server
    with grpc.insecure_channel(running.address) as channel:
        predict = channel.unary_unary(
            "/serving.ModelService/Predict",
            request_serializer=serving_pb2.PredictRequest.SerializeToString,
            response_deserializer=serving_pb2.PredictResponse.FromString,
        )
        with pytest.raises(grpc.RpcError) as error:
            predict(serving_pb2.PredictRequest(inputs={"x": tensor}), timeout=30)
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert message in error.value.details()
    assert_still_serving(running, model)


def test_random_and_malformed_payloads_leave_the_server_answering(server):
    running, model = server
    rng = np.random.default_rng(0)
    valid = serving_pb2.PredictRequest(inputs={"x": raw_tensor()}).SerializeToString()
    payloads = [rng.bytes(int(rng.integers(0, 300))) for _ in range(100)]
    payloads += [valid[:end] for end in range(len(valid))]  # every truncation, the empty message included
    for _ in range(100):  # a valid message with a few bytes flipped, cut short or grown
        corrupt = bytearray(valid)
        for position in rng.integers(0, len(corrupt), 3):
            corrupt[position] = int(rng.integers(0, 256))
        payloads.append(bytes(corrupt[: int(rng.integers(0, len(corrupt) + 1))]) + rng.bytes(int(rng.integers(0, 8))))
    codes = set()
    with grpc.insecure_channel(running.address) as channel:
        for method in ("Predict", "ModelStatus"):
            call = channel.unary_unary(f"/serving.ModelService/{method}")  # raw bytes in and out
            for payload in payloads:
                try:
                    call(payload, timeout=30)
                    codes.add("OK")
                except grpc.RpcError as error:
                    codes.add(error.code().name)
    assert codes <= {"OK", "INVALID_ARGUMENT", "NOT_FOUND"}, codes
    assert "INVALID_ARGUMENT" in codes
    assert_still_serving(running, model)
    with running.client(timeout=30) as client:
        assert client.health() == "SERVING"


@pytest.mark.parametrize(
    ("method", "message_type"),
    [("Predict", "serving.PredictRequest"), ("ModelStatus", "serving.ModelStatusRequest")],
)
def test_a_message_that_does_not_parse_is_invalid_argument_naming_its_type(server, method, message_type):
    running, model = server
    with grpc.insecure_channel(running.address) as channel:
        call = channel.unary_unary(f"/serving.ModelService/{method}")
        with pytest.raises(grpc.RpcError) as error:
            call(b"\xff\xff\xff", timeout=30)
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert f"the request is not a valid {message_type} message" in error.value.details()
    assert_still_serving(running, model)


@pytest.fixture(scope="module")
def slow_server(model_dir):
    """Batches wait 3 s for company and at most 2 requests wait: room to fill the queue and miss deadlines."""
    directory, model = model_dir
    flags = ("--batch-timeout-ms", "3000", "--batch-wait", "always", "--max-queue", "2", "--max-batch-size", "64")
    with running_server(directory / "m", directory, *flags, http=False) as running:
        yield running, model


def test_a_full_queue_is_resource_exhausted_at_once(slow_server):
    running, model = slow_server
    x = np.random.default_rng(1).normal(size=(4, 1))
    answers = []

    def ask():
        with running.client(timeout=60) as client:
            answers.append(client.predict({"x": x})["predict"])

    threads = [threading.Thread(target=ask) for _ in range(2)]
    for thread in threads:
        thread.start()
    with running.client(timeout=30) as client:
        wait_until(lambda: client.status()["counters"]["queue_depth"] == 2, 30, "two requests never queued")
        with pytest.raises(serving.ServingError, match=r"queue is full \(2 requests waiting") as error:
            client.predict({"x": x})
        assert error.value.code == grpc.StatusCode.RESOURCE_EXHAUSTED
        for thread in threads:
            thread.join(60)
        assert client.status()["counters"]["rejected_queue_full"] >= 1
    assert len(answers) == 2
    for answer in answers:
        np.testing.assert_allclose(answer, local_forward(model, {"x": x[None]})[0], rtol=1e-12)


def test_a_request_whose_deadline_expires_in_the_queue_is_never_computed(slow_server):
    running, model = slow_server
    with running.client(timeout=30) as client:
        before = client.status()["counters"]
        with pytest.raises(serving.ServingError) as error:
            client.predict({"x": np.zeros((5, 4, 1))}, timeout=0.5)
        assert error.value.code == grpc.StatusCode.DEADLINE_EXCEEDED
        # The 3 s batch window closes, the worker finds the deadline passed and drops the request.
        wait_until(
            lambda: client.status()["counters"]["expired"] > before["expired"], 30, "the request was never dropped"
        )
        after = client.status()["counters"]
    assert after["samples_computed"] == before["samples_computed"]
    assert after["batches"] == before["batches"]


def test_a_request_its_client_cancels_in_the_queue_is_never_computed(slow_server):
    running, _ = slow_server
    request = serving_pb2.PredictRequest(inputs={"x": raw_tensor(shape=(6, 4, 1))}).SerializeToString()
    with running.client(timeout=30) as client, grpc.insecure_channel(running.address) as channel:
        before = client.status()["counters"]
        future = channel.unary_unary("/serving.ModelService/Predict").future(request)  # no deadline
        wait_until(lambda: client.status()["counters"]["queue_depth"] == 1, 30, "the request never queued")
        assert future.cancel()
        # The 3 s batch window closes, the worker finds the client gone and drops the request.
        wait_until(
            lambda: client.status()["counters"]["cancelled"] > before["cancelled"], 30, "the request was never dropped"
        )
        after = client.status()["counters"]
    assert after["samples_computed"] == before["samples_computed"]
    assert after["batches"] == before["batches"]
    assert after["errors"] > before["errors"]  # the server recorded the RPC as CANCELLED
