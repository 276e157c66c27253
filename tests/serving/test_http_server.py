"""The HTTP/JSON endpoint (TensorFlow Serving's REST API shape) and the Prometheus metrics beside it."""

import http.client
import json
import urllib.error
import urllib.request

import numpy as np
import pytest

from .support import export, local_forward, running_server, two_input_model

RTOL = 1e-12


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A two-input model: x (4, 1) and y (2, 1) -> predict = SoftMax(W x) * mean-free y column."""
    directory = tmp_path_factory.mktemp("http")

    _, model = export(directory / "pair", 1, two_input_model, seed=6)
    flags = ("--max-request-bytes", "4096")
    with running_server(directory / "pair", directory, *flags) as running:
        yield running, model


def call(server, path, payload=None, raw=None):
    """(status, parsed JSON or text) of a GET (no payload) or a POST."""
    data = raw if raw is not None else None if payload is None else json.dumps(payload).encode()
    request = urllib.request.Request(f"http://{server.http}{path}", data=data, method="GET" if data is None else "POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, body = response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        status, body = error.code, error.read().decode()
    try:
        return status, json.loads(body)
    except ValueError:
        return status, body


def sample_inputs(n):
    rng = np.random.default_rng(n)
    return {"x": rng.normal(size=(n, 4, 1)), "y": rng.normal(size=(n, 2, 1))}


def test_columnar_inputs_are_answered_in_the_same_form(server):
    running, model = server
    batch = sample_inputs(3)
    status, body = call(running, "/v1/models/pair:predict", {"inputs": {k: v.tolist() for k, v in batch.items()}})
    assert status == 200, body
    assert body["model_version"] == 1 and list(body["outputs"]) == ["scaled"]
    np.testing.assert_allclose(np.array(body["outputs"]["scaled"]), local_forward(model, batch), rtol=RTOL)
    one = {k: v[1].tolist() for k, v in batch.items()}
    status, body = call(running, "/v1/models/pair:predict", {"inputs": one})
    assert status == 200 and np.array(body["outputs"]["scaled"]).shape == (2, 1)
    np.testing.assert_allclose(np.array(body["outputs"]["scaled"]), local_forward(model, batch)[1], rtol=RTOL)


def test_instances_get_one_prediction_each(server):
    running, model = server
    batch = sample_inputs(4)
    instances = [{"x": batch["x"][row].tolist(), "y": batch["y"][row].tolist()} for row in range(4)]
    status, body = call(running, "/v1/models/pair:predict", {"instances": instances})
    assert status == 200, body
    assert len(body["predictions"]) == 4
    np.testing.assert_allclose(np.array(body["predictions"]), local_forward(model, batch), rtol=RTOL)


def test_status_route_reports_version_and_signature(server):
    running, _ = server
    status, body = call(running, "/v1/models/pair")
    assert status == 200
    assert body["version"] == 1
    assert body["inputs"] == [
        {"name": "x", "dim": [4, 1], "dtype": "float64"},
        {"name": "y", "dim": [2, 1], "dtype": "float64"},
    ]
    assert body["outputs"] == [{"name": "scaled", "dim": [2, 1], "dtype": "float64"}]


EXPECTED_X = "input 'x' takes one sample of shape (4, 1) or a batch of shape (B, 4, 1)"


@pytest.mark.parametrize(
    ("path", "payload", "status", "message"),
    [
        (
            "/v1/models/pair:predict",
            {"inputs": {"x": [[1], [2]], "y": [[1], [2]]}},
            400,
            "input 'x': got shape (2, 1); " + EXPECTED_X,
        ),
        ("/v1/models/pair:predict", {"inputs": {"x": [[1], [2], [3], [4]]}}, 400, "missing input 'y'"),
        (
            "/v1/models/pair:predict",
            {"inputs": {"x": [[True]] * 4, "y": [[1], [2]]}},
            400,
            "input 'x': values must be numbers",
        ),
        (
            "/v1/models/pair:predict",
            {"inputs": {"x": [[1], [2, 3], [4], [5]], "y": [[1], [2]]}},
            400,
            "input 'x': values must be numbers in nested lists of equal lengths",
        ),
        ("/v1/models/pair:predict", {"inputs": {"x": [["a"]] * 4, "y": [[1], [2]]}}, 400, "values must be numbers"),
        ("/v1/models/pair:predict", {"instances": []}, 400, "non-empty list"),
        ("/v1/models/pair:predict", {"instances": [[[1], [2], [3], [4]]]}, 400, "the model has inputs ['x', 'y']"),
        ("/v1/models/pair:predict", {"inputs": {}, "instances": []}, 400, 'either "inputs" or "instances"'),
        (
            "/v1/models/pair:predict",
            {"inputs": {"x": [[[0]] * 4] * 100, "y": [[[0]] * 2] * 100}},
            400,
            "request too large",
        ),
        ("/v1/models/other:predict", {"inputs": {}}, 404, "model 'other' is not served here"),
        ("/v2/whatever", {"inputs": {}}, 404, "no route POST /v2/whatever"),
    ],
)
def test_bad_requests_get_an_error_status_and_a_message(server, path, payload, status, message):
    running, _ = server
    got_status, body = call(running, path, payload)
    assert got_status == status, body
    assert message in body["error"]


def test_non_finite_json_values_are_400(server):
    running, _ = server
    raw = b'{"inputs": {"x": [[NaN], [1], [2], [3]], "y": [[Infinity], [1]]}}'
    status, body = call(running, "/v1/models/pair:predict", raw=raw)
    assert status == 400 and "values must be finite" in body["error"]


def test_a_body_over_the_limit_is_413(server):
    running, _ = server
    status, body = call(running, "/v1/models/pair:predict", raw=b" " * (4 * 4096 + 1))
    assert status == 413 and "exceeds the limit" in body["error"]


def test_random_bodies_are_refused_and_the_server_still_answers(server):
    running, model = server
    rng = np.random.default_rng(0)
    statuses = set()
    for _ in range(50):
        statuses.add(call(running, "/v1/models/pair:predict", raw=rng.bytes(int(rng.integers(1, 200))))[0])
    for junk in ('{"inputs": 5}', '{"inputs": {"x": {"a": 1}}}', "[1, 2]", "null", '{"instances": [{"x": 1}]}'):
        statuses.add(call(running, "/v1/models/pair:predict", raw=junk.encode())[0])
    assert statuses == {400}
    test_columnar_inputs_are_answered_in_the_same_form(server)


def test_metrics_report_latency_queue_batches_and_counts(server):
    running, _ = server
    batch = sample_inputs(2)
    call(running, "/v1/models/pair:predict", {"inputs": {k: v.tolist() for k, v in batch.items()}})
    call(running, "/v1/models/pair:predict", {"inputs": {"x": [[1]]}})
    status, text = call(running, "/metrics")
    assert status == 200
    lines = {line.split(" ")[0]: float(line.split(" ")[1]) for line in text.splitlines() if not line.startswith("#")}
    assert lines['serving_request_latency_seconds_count{protocol="http"}'] >= 2
    assert lines["serving_queue_seconds_count"] >= 1
    assert lines["serving_batch_size_count"] >= 1
    assert lines['serving_requests_total{code="OK",protocol="http"}'] >= 1
    assert lines['serving_errors_total{code="INVALID_ARGUMENT",protocol="http"}'] >= 1
    assert lines["serving_model_version"] == 1
    for name in ("serving_requests_expired_total", "serving_requests_rejected_total", "serving_samples_computed_total"):
        assert name in lines


def raw_request(server, method, path, headers=(), body=None, chunked=False):
    """(status, headers, parsed JSON) of one request on a new connection, with exactly the headers given."""
    host, port = server.http.rsplit(":", 1)
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        connection.putrequest(method, path)
        for key, value in headers:
            connection.putheader(key, value)
        if chunked:
            connection.putheader("Transfer-Encoding", "chunked")
        connection.endheaders()
        if chunked:
            connection.send(b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body))
        elif body is not None:
            connection.send(body)
        response = connection.getresponse()
        return response.status, response, json.loads(response.read())
    finally:
        connection.close()


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [("GET", "/v1/models/pair:predict", "POST"), ("POST", "/v1/models/pair", "GET"), ("POST", "/metrics", "GET")],
)
def test_a_route_asked_with_the_wrong_method_is_405_with_allow(server, method, path, allow):
    running, _ = server
    status, response, body = raw_request(running, method, path, [("Content-Length", "0")] if method == "POST" else [])
    assert status == 405 and response.getheader("Allow") == allow
    assert body["error"].startswith(f"{method} {path}: this route takes {allow} only")


def test_paths_that_are_no_route_stay_404(server):
    running, _ = server
    for method, path in [("GET", "/v1/models/pair:explain"), ("GET", "/v2/pair:predict"), ("POST", "/v1/models/a/b")]:
        status, response, body = raw_request(running, method, path, [("Content-Length", "0")])
        assert status == 404 and response.getheader("Allow") is None, (path, body)
        assert body["error"].startswith(f"no route {method} {path}")


@pytest.mark.parametrize("headers", [[("Content-Length", "0")], []], ids=["content-length-0", "no-content-length"])
def test_an_empty_post_is_told_its_body_is_empty(server, headers):
    running, _ = server
    status, _, body = raw_request(running, "POST", "/v1/models/pair:predict", headers)
    assert status == 400
    assert body["error"].startswith("the body is empty; POST a JSON object")


def test_a_chunked_body_is_refused_as_chunked_and_the_server_still_answers(server):
    running, _ = server
    payload = json.dumps({"inputs": {k: v.tolist() for k, v in sample_inputs(1).items()}}).encode()
    status, response, body = raw_request(running, "POST", "/v1/models/pair:predict", body=payload, chunked=True)
    assert status == 400 and "chunked bodies are not supported" in body["error"]
    assert response.getheader("Connection") == "close"  # its unread chunks must not be parsed as a request
    status, _, _ = raw_request(
        running, "POST", "/v1/models/pair:predict", [("Content-Length", str(len(payload)))], payload
    )
    assert status == 200


def test_a_content_length_that_is_no_number_is_400(server):
    running, _ = server
    for length in ("-5", "ten"):
        status, _, body = raw_request(running, "POST", "/v1/models/pair:predict", [("Content-Length", length)])
        assert status == 400 and f"the Content-Length header {length!r} is not a number of bytes" in body["error"]
