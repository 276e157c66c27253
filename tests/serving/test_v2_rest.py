"""The Open Inference Protocol (KServe v2) over HTTP, driven by tritonclient.http and by hand-made bodies.

Good requests must answer what the engine's own forward pass gives; every bad one gets the v1 API's
status and a message naming the tensor or field, and the server answers the next good request.
"""

import http.client
import json

import numpy as np
import pytest
import tritonclient.http as triton
from tritonclient.utils import InferenceServerException

from .v2_support import MODEL, assert_live_and_ready, batch, v2_server

RTOL = 1e-12
MAX_REQUEST_BYTES = 1 << 20
MAX_BODY_BYTES = 4 * MAX_REQUEST_BYTES  # the HTTP body limit the server derives from it


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with v2_server(tmp_path_factory.mktemp("v2_rest"), MAX_REQUEST_BYTES) as running:
        yield running


@pytest.fixture(scope="module")
def client(server):
    with triton.InferenceServerClient(server.http, network_timeout=30) as client:
        yield client


def infer_inputs(feed, datatype, binary_data):
    inputs = []
    for name, value in feed.items():
        tensor = triton.InferInput(name, list(value.shape), datatype)
        tensor.set_data_from_numpy(value, binary_data=binary_data)
        inputs.append(tensor)
    return inputs


def request(server, method, path, body=b"", headers=None):
    """(status, body bytes, response headers) of one request on a new connection."""
    host, port = server.http.rsplit(":", 1)
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.read(), response
    finally:
        connection.close()


def error_of(body):
    return json.loads(body)["error"]


def json_tensor(name, value, datatype="FP64"):
    return {"name": name, "datatype": datatype, "shape": list(value.shape), "data": value.ravel().tolist()}


def good_body(feed=None):
    feed = batch() if feed is None else feed
    return {"inputs": [json_tensor(name, value) for name, value in feed.items()]}


def assert_still_serves(server, client):
    feed = batch(size=2, seed=9)
    answer = client.infer(MODEL, infer_inputs(feed, "FP64", binary_data=True)).as_numpy("scaled")
    np.testing.assert_allclose(answer, server.forward(feed), rtol=RTOL)


def test_health_and_readiness(client):
    assert_live_and_ready(client)


def test_model_metadata_has_the_signature_with_a_batch_axis_of_minus_one(client):
    metadata = client.get_model_metadata(MODEL)
    assert metadata["name"] == MODEL and metadata["versions"] == ["1", "2"]
    assert metadata["inputs"] == [
        {"name": "x", "datatype": "FP64", "shape": [-1, 4, 1]},
        {"name": "y", "datatype": "FP64", "shape": [-1, 2, 1]},
    ]
    assert metadata["outputs"] == [{"name": "scaled", "datatype": "FP64", "shape": [-1, 2, 1]}]
    assert client.get_model_metadata(MODEL, "1")["name"] == MODEL


@pytest.mark.parametrize("binary_out", [True, False], ids=["binary-out", "json-out"])
@pytest.mark.parametrize("binary_in", [True, False], ids=["binary-in", "json-in"])
@pytest.mark.parametrize("datatype", ["FP32", "FP64"])
def test_infer_answers_the_engines_forward_pass(server, client, datatype, binary_in, binary_out):
    feed = batch(size=3, seed=1, dtype=np.float32 if datatype == "FP32" else np.float64)
    outputs = [triton.InferRequestedOutput("scaled", binary_data=binary_out)]
    result = client.infer(MODEL, infer_inputs(feed, datatype, binary_in), outputs=outputs)
    response = result.get_response()
    assert response["model_version"] == "2"
    assert ("parameters" in response["outputs"][0]) == binary_out  # binary outputs say their size there
    np.testing.assert_allclose(result.as_numpy("scaled"), server.forward(feed), rtol=RTOL)


def test_nested_data_and_an_id_are_read_as_the_spec_says(server):
    feed = batch(size=2, seed=5)
    body = {
        "id": "request-7",
        "inputs": [
            {"name": name, "datatype": "FP64", "shape": list(value.shape), "data": value.tolist()}
            for name, value in feed.items()
        ],
    }
    status, payload, response = request(server, "POST", INFER, json.dumps(body).encode())
    assert status == 200 and response.getheader("Content-Type") == "application/json"
    answer = json.loads(payload)
    assert answer["id"] == "request-7" and answer["model_name"] == MODEL
    (output,) = answer["outputs"]
    assert output["name"] == "scaled" and output["datatype"] == "FP64" and output["shape"] == [2, 2, 1]
    np.testing.assert_allclose(np.reshape(output["data"], output["shape"]), server.forward(feed), rtol=RTOL)


def test_one_sample_without_the_batch_axis_is_answered_without_it(server, client):
    feed = {name: value[0] for name, value in batch(size=1, seed=2).items()}
    answer = client.infer(MODEL, infer_inputs(feed, "FP64", binary_data=False)).as_numpy("scaled")
    assert answer.shape == (2, 1)
    np.testing.assert_allclose(answer, server.forward({k: v[None] for k, v in feed.items()})[0], rtol=RTOL)


@pytest.mark.parametrize("version", ["1", "2"])
def test_model_version_pins_the_version_that_computes(server, client, version):
    feed = batch(size=2, seed=3)
    result = client.infer(MODEL, infer_inputs(feed, "FP64", True), model_version=version)
    assert result.get_response()["model_version"] == version
    np.testing.assert_allclose(result.as_numpy("scaled"), server.forward(feed, int(version)), rtol=RTOL)
    assert not np.allclose(server.forward(feed, 1), server.forward(feed, 2))  # the versions can be told apart


def test_tritonclient_reports_the_servers_status_and_message(server, client):
    with pytest.raises(InferenceServerException) as unknown:
        client.infer("other", infer_inputs(batch(), "FP64", True))
    assert unknown.value.status() == "404" and "'other'" in unknown.value.message()
    wrong = {"x": np.zeros((2, 4, 2)), "y": np.zeros((2, 2, 1))}
    with pytest.raises(InferenceServerException) as refused:
        client.infer(MODEL, infer_inputs(wrong, "FP64", True))
    assert refused.value.status() == "400" and "input 'x': got shape (2, 4, 2)" in refused.value.message()
    assert_still_serves(server, client)


def _with_input(index, **changes):
    body = good_body()
    body["inputs"][index].update(changes)
    return json.dumps(body).encode()


def _binary_body(x_size):
    """A binary body whose x says ``x_size`` bytes (it has 96: 3 x 4 x 1 float64)."""
    feed = batch()
    inputs = [{"name": name, "datatype": "FP64", "shape": list(value.shape)} for name, value in feed.items()]
    inputs[0]["parameters"] = {"binary_data_size": x_size}
    inputs[1]["parameters"] = {"binary_data_size": feed["y"].nbytes}
    header = json.dumps({"inputs": inputs}).encode()
    return header + feed["x"].tobytes()[:x_size] + feed["y"].tobytes(), {
        "Inference-Header-Content-Length": str(len(header))
    }


INFER = f"/v2/models/{MODEL}/infer"
BAD_REQUESTS = {
    "unknown model": ("/v2/models/other/infer", json.dumps(good_body()).encode(), None, 404, ["'other'", MODEL]),
    "unknown version": (
        f"/v2/models/{MODEL}/versions/7/infer",
        json.dumps(good_body()).encode(),
        None,
        404,
        ["no version 7", "versions served: 1, 2"],
    ),
    "unknown input": (INFER, _with_input(0, name="z"), None, 400, ["unknown input 'z'", "'x'", "'y'"]),
    "missing input": (
        INFER,
        json.dumps({"inputs": good_body()["inputs"][:1]}).encode(),
        None,
        400,
        ["missing input 'y'"],
    ),
    "wrong shape": (INFER, _with_input(0, shape=[3, 2, 2]), None, 400, ["input 'x': got shape (3, 2, 2)", "(B, 4, 1)"]),
    "shape vs data": (INFER, _with_input(0, shape=[3, 4, 2]), None, 400, ["input 'x'", "24 values", "holds 12"]),
    "strings": (INFER, _with_input(1, datatype="BYTES", data=["a"] * 6), None, 400, ["input 'y'", "BYTES"]),
    "integers": (INFER, _with_input(0, datatype="INT32"), None, 400, ["input 'x': dtype int32", "float32 or float64"]),
    "non-finite": (
        INFER,
        _with_input(0, data=[1.0] * 11 + [float("nan")]),
        None,
        400,
        ["input 'x': values must be finite"],
    ),
    "bad json": (INFER, b'{"inputs": [{"name": "x", ', None, 400, ["not valid JSON"]),
    "unknown key": (INFER, _with_input(0, values=[1]), None, 400, ["unknown key 'values'", "input 'x'"]),
    "unknown output": (
        INFER,
        json.dumps({**good_body(), "outputs": [{"name": "nope"}]}).encode(),
        None,
        400,
        ["unknown output 'nope'", "scaled"],
    ),
    "raw byte count": (INFER, *_binary_body(40), 400, ["input 'x': raw contents hold 40 bytes", "takes 96 bytes"]),
}


@pytest.mark.parametrize("case", list(BAD_REQUESTS))
def test_a_bad_request_gets_its_status_and_a_message_naming_the_field(server, client, case):
    path, body, headers, status, fragments = BAD_REQUESTS[case]
    answered, payload, _ = request(server, "POST", path, body, headers)
    assert answered == status, payload
    message = error_of(payload)
    for fragment in fragments:
        assert fragment in message, (fragment, message)
    assert_still_serves(server, client)


def test_input_values_over_the_limit_are_400_naming_the_limit(server, client):
    x = np.zeros((40_000, 4, 1))  # 1.28 MB of values, over the 1 MiB limit, in a body under the 4 MiB one
    y = np.zeros((40_000, 2, 1))
    inputs = infer_inputs({"x": x, "y": y}, "FP64", binary_data=True)
    with pytest.raises(InferenceServerException) as refused:
        client.infer(MODEL, inputs)
    assert refused.value.status() == "400"
    assert "request too large" in refused.value.message() and str(MAX_REQUEST_BYTES) in refused.value.message()
    assert_still_serves(server, client)


def test_a_body_over_the_limit_is_413(server, client):
    status, payload, _ = request(server, "POST", INFER, b" " * (MAX_BODY_BYTES + 1))
    assert status == 413
    assert f"exceeds the limit of {MAX_BODY_BYTES} bytes" in error_of(payload)
    assert_still_serves(server, client)


def test_the_routes_take_one_method_each(server):
    status, payload, response = request(server, "GET", INFER)
    assert status == 405 and response.getheader("Allow") == "POST"
    assert "POST" in error_of(payload)
    status, payload, _ = request(server, "GET", "/v2/models/pair/nowhere")
    assert status == 404 and "/v2/models/pair/nowhere" in error_of(payload) and "/v2/health/live" in error_of(payload)
    status, payload, _ = request(server, "POST", "/v2/models/pair/versions/x/infer", b"{}")
    assert status == 404 and "POST /v2/models/NAME/infer" in error_of(payload)


def test_v2_requests_are_counted_under_their_own_protocol(server, client):
    assert_still_serves(server, client)
    request(server, "POST", INFER, _with_input(0, shape=[1]))
    _, exposition, _ = request(server, "GET", "/metrics")
    lines = dict(line.rsplit(" ", 1) for line in exposition.decode().splitlines() if not line.startswith("#"))
    assert float(lines['serving_requests_total{code="OK",protocol="http_v2"}']) >= 1
    assert float(lines['serving_errors_total{code="INVALID_ARGUMENT",protocol="http_v2"}']) >= 1
