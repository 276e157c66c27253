"""Inputs that used to crash a handler (500) or drop the connection get a status, and the server keeps answering.

Each case is sent over a raw socket, so the test sees exactly what the server writes,
status line included; after each one a good request must still be answered exactly.
"""

import json
import socket

import numpy as np
import pytest

import matrixslow as ms
from matrixslow import serving
from matrixslow.serving.errors import MAX_NAME_CHARS, SHOWN_CHARS

from .support import export, local_forward, running_server

LONG_NAMES = [100_000, 4_000_000]
# Small enough that a body over the HTTP limit (4x this) is quick to send; large enough that gRPC's
# message limit (2x this + 1 MiB) lets a 4 MB name through to be answered by the server.
MAX_REQUEST_BYTES = 2 << 20
MAX_BODY_BYTES = 4 * MAX_REQUEST_BYTES


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    directory = tmp_path_factory.mktemp("bad_input")
    _, model = export(directory / "m", 1, lambda: ms.model.dnn(4, [5], 3), seed=4)
    with running_server(directory / "m", directory, "--max-request-bytes", MAX_REQUEST_BYTES) as running:
        yield running, model


def exchange(address, data, read_timeout=20):
    """Send ``data`` on a new connection; (status code, body) of the answer, or (None, what happened)."""
    host, port = address.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=read_timeout) as connection:
        connection.sendall(data)
        answer = b""
        try:
            while chunk := connection.recv(65536):
                answer += chunk
        except ConnectionResetError:
            return None, f"connection reset after {len(answer)} bytes"
    if not answer:
        return None, "connection closed without an answer"
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split()[1]), body.decode(errors="replace")


def post(address, body, path="/v1/models/m:predict", length=None):
    length = len(body) if length is None else length
    head = f"POST {path} HTTP/1.1\r\nHost: test\r\nContent-Length: {length}\r\nConnection: close\r\n\r\n"
    return exchange(address, head.encode() + body)


def assert_still_answers(server):
    running, model = server
    x = np.random.default_rng(0).normal(size=(2, 4, 1))
    status, body = post(running.http, json.dumps({"inputs": {"x": x.tolist()}}).encode())
    assert status == 200, body
    np.testing.assert_allclose(json.loads(body)["outputs"]["predict"], local_forward(model, {"x": x}), rtol=1e-12)


@pytest.mark.parametrize("huge", [b"1" + b"0" * 400, b"1e400", b"-2.5E+999"], ids=["digits", "exponent", "negative"])
def test_a_number_too_large_for_float64_is_400_naming_it(server, huge):
    status, body = post(server[0].http, b'{"inputs": {"x": [[' + huge + b"], [1], [1], [1]]}}")
    assert status == 400
    assert "too large for float64" in json.loads(body)["error"]
    assert_still_answers(server)


def test_lists_nested_100000_deep_are_400_saying_so(server):
    status, body = post(server[0].http, b'{"inputs": {"x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}}")
    assert status == 400
    assert "nested too deeply" in json.loads(body)["error"]
    assert_still_answers(server)


def test_a_body_shorter_than_its_content_length_is_408_naming_the_bytes(server):
    status, body = post(server[0].http, b'{"in', length=100)
    assert status == 408
    assert "4 of its 100 bytes" in json.loads(body)["error"]
    assert_still_answers(server)


@pytest.mark.parametrize("length", LONG_NAMES)
def test_a_very_long_model_name_over_http_gets_a_status_not_a_dropped_connection(server, length):
    status, body = post(server[0].http, b"{}", path=f"/v1/models/{'a' * length}:predict")
    assert status == 414
    assert f"at most {MAX_NAME_CHARS} characters" in json.loads(body)["error"]
    assert_still_answers(server)


def test_a_long_model_name_under_the_request_line_limit_is_404_with_the_name_cut(server):
    status, body = post(server[0].http, b"{}", path=f"/v1/models/{'b' * 60_000}:predict")
    assert status == 404
    message = json.loads(body)["error"]
    assert "60000 characters" in message and len(message) < 300


@pytest.mark.parametrize("length", LONG_NAMES)
def test_a_very_long_model_name_over_grpc_is_not_found_with_the_name_cut(server, length):
    with server[0].client(timeout=30) as client:
        client.model_name = "a" * length
        with pytest.raises(serving.ServingError) as raised:
            client.predict({"x": np.zeros((4, 1))})
    assert raised.value.code.name == "NOT_FOUND"
    assert f"({length} characters)" in raised.value.details
    assert len(raised.value.details) < 300
    assert_still_answers(server)


@pytest.mark.parametrize("where", ["input", "output"])
def test_a_very_long_input_or_output_name_over_grpc_is_invalid_argument_with_the_name_cut(server, where):
    long_name = "c" * 4_000_000
    with server[0].client(timeout=30) as client:
        inputs = {long_name: np.zeros((4, 1))} if where == "input" else {"x": np.zeros((4, 1))}
        outputs = [long_name] if where == "output" else []
        with pytest.raises(serving.ServingError) as raised:
            client.predict(inputs, output_names=outputs)
    assert raised.value.code.name == "INVALID_ARGUMENT"
    assert f"{where} name" in raised.value.details and len(raised.value.details) < 300
    assert_still_answers(server)


def test_a_long_input_name_over_http_is_400_with_the_name_cut(server):
    payload = {"inputs": {"d" * 1_000: [[0.0]] * 4}}
    status, body = post(server[0].http, json.dumps(payload).encode())
    assert status == 400
    message = json.loads(body)["error"]
    assert "1000 characters" in message and len(message) < 300 and "d" * (SHOWN_CHARS + 1) not in message
    assert_still_answers(server)


@pytest.mark.parametrize(
    ("request_line", "echo"),
    [
        (f"POST /v2/{'e' * 60_000} HTTP/1.1", "no route POST /v2/eeee"),
        (f"GET /v1/models/{'e' * 60_000}:predict HTTP/1.1", "GET /v1/models/eeee"),
    ],
    ids=["404", "405"],
)
def test_a_long_path_is_cut_in_the_error_that_repeats_it(server, request_line, echo):
    status, body = exchange(
        server[0].http, f"{request_line}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".encode()
    )
    assert status in (404, 405)
    message = json.loads(body)["error"]
    assert message.startswith(echo) and "characters)" in message and len(message) < 300
    assert_still_answers(server)


def test_a_long_content_length_is_cut_in_the_error_that_repeats_it(server):
    status, body = post(server[0].http, b"", length="x" * 60_000)
    assert status == 400
    message = json.loads(body)["error"]
    assert message.startswith("the Content-Length header 'xxx") and "(60000 characters)" in message
    assert len(message) < 300
    assert_still_answers(server)


def test_a_body_over_the_limit_is_413_even_while_the_client_is_still_sending_it(server):
    status, body = post(server[0].http, b" " * (2 * MAX_BODY_BYTES))  # far more than the socket buffers hold
    assert status == 413
    assert (
        json.loads(body)["error"]
        == f"the body of {2 * MAX_BODY_BYTES} bytes exceeds the limit of {MAX_BODY_BYTES} bytes"
    )
    assert_still_answers(server)


def test_a_client_that_asks_before_sending_a_body_over_the_limit_is_refused_before_it_sends(server):
    head = (
        f"POST /v1/models/m:predict HTTP/1.1\r\nContent-Length: {MAX_BODY_BYTES + 1}\r\nExpect: 100-continue\r\n"
        "Connection: close\r\n\r\n"
    )
    status, body = exchange(server[0].http, head.encode())  # no body follows: the answer must come without it
    assert status == 413 and "exceeds the limit" in json.loads(body)["error"]
    assert_still_answers(server)


def test_a_key_the_body_does_not_take_is_400_naming_it(server):
    status, body = post(server[0].http, json.dumps({"inputs": {"x": [[0.0]] * 4}, "inptus": 1}).encode())
    assert status == 400
    assert json.loads(body)["error"].startswith("unknown key 'inptus' in the body; a :predict body takes inputs,")
    assert_still_answers(server)
