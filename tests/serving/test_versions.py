"""``python -m matrixslow.serving`` with versions: pinned by REST path or gRPC field, N kept, a corrupt newest
skipped at start.

Version 3 of the served model takes inputs of another shape than versions 1 and 2, so an
answer computed by the wrong version, or a request checked against the wrong signature, shows.
"""

import json
import urllib.error
import urllib.parse
import urllib.request

import grpc
import numpy as np
import pytest

import matrixslow as ms
from matrixslow import serving
from matrixslow.serving.http_server import _route
from matrixslow.serving.proto import serving_pb2, serving_pb2_grpc

from .support import export, local_forward, run_server_to_exit, running_server, wait_until

RTOL, ATOL = 1e-12, 1e-14
INPUTS = {1: 4, 2: 4, 3: 5}  # version -> rows of its input x


def build(rows):
    return lambda: ms.model.dnn(rows, [6], 3)


def feed(version, n=3):
    return {"x": np.random.default_rng(version).normal(size=(n, INPUTS[version], 1))}


def call(address, path, payload=None):
    """(HTTP status, parsed JSON body) of a GET (no payload) or a POST."""
    data = None if payload is None else json.dumps(payload).encode()
    request = urllib.request.Request(f"http://{address}{path}", data=data, method="GET" if data is None else "POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.fixture(scope="module")
def kept_two(tmp_path_factory):
    """A server of versions 1, 2, 3 keeping two loaded: (server, {version: local model})."""
    directory = tmp_path_factory.mktemp("versions")
    models = {
        version: export(directory / "m", version, build(rows), seed=version)[1] for version, rows in INPUTS.items()
    }
    with running_server(directory / "m", directory, "--keep-versions", "2") as server:
        yield server, models


def test_a_grpc_request_pinned_to_a_kept_version_is_computed_by_it(kept_two):
    server, models = kept_two
    with server.client(timeout=30) as client:
        pinned = client.predict(feed(2), version=2)["predict"]
        assert client.last_version == 2
        newest = client.predict(feed(3))["predict"]
        assert client.last_version == 3
    np.testing.assert_allclose(pinned, local_forward(models[2], feed(2)), rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(newest, local_forward(models[3], feed(3)), rtol=RTOL, atol=ATOL)


def test_a_pinned_request_is_checked_against_its_own_versions_signature(kept_two):
    server, _ = kept_two
    with server.client(timeout=30) as client, pytest.raises(serving.ServingError) as error:
        client.predict(feed(2))  # shaped for version 2; the newest, 3, takes (5, 1)
    assert error.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert "input 'x': got shape (3, 4, 1); input 'x' takes one sample of shape (5, 1)" in error.value.details
    with server.client(timeout=30) as client, pytest.raises(serving.ServingError) as error:
        client.predict(feed(3), version=2)
    assert "takes one sample of shape (4, 1)" in error.value.details


@pytest.mark.parametrize("version", [1, 7])
def test_a_version_not_loaded_is_not_found_naming_the_versions_served(kept_two, version):
    server, _ = kept_two
    message = f"model 'm' has no version {version} loaded; versions served: 2, 3"
    with server.client(timeout=30) as client:
        with pytest.raises(serving.ServingError) as error:
            client.predict(feed(2), version=version)
        assert error.value.code == grpc.StatusCode.NOT_FOUND and error.value.details == message
        with pytest.raises(serving.ServingError) as error:
            client.status(version=version)
        assert error.value.code == grpc.StatusCode.NOT_FOUND and error.value.details == message
    status, body = call(server.http, f"/v1/models/m/versions/{version}:predict", {"inputs": {"x": [[0.0]] * 4}})
    assert (status, body) == (404, {"error": message})
    assert call(server.http, f"/v1/models/m/versions/{version}") == (404, {"error": message})


def test_a_negative_grpc_version_is_invalid_and_the_client_refuses_one_below_1(kept_two):
    server, _ = kept_two
    with grpc.insecure_channel(server.address) as channel:
        stub = serving_pb2_grpc.ModelServiceStub(channel)
        with pytest.raises(grpc.RpcError) as error:
            stub.Predict(serving_pb2.PredictRequest(version=-2), timeout=30)
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.value.details().startswith("version -2 is not a version: versions are numbered from 1")
    with server.client() as client, pytest.raises(ValueError, match="version must be an int >= 1"):
        client.predict(feed(2), version=0)


def test_status_names_the_loaded_versions_and_a_pinned_ones_signature(kept_two):
    server, _ = kept_two
    with server.client(timeout=30) as client:
        newest, second = client.status(), client.status(version=2)
    assert newest["version"] == 3 and newest["inputs"][0]["dim"] == (5, 1)
    assert second["version"] == 2 and second["inputs"][0]["dim"] == (4, 1)
    for status in (newest, second):
        assert status["loaded_versions"] == [2, 3] and status["available_versions"] == [1, 2, 3]
        assert status["failed_versions"] == {} and status["last_load_error"] == ""
    status, body = call(server.http, "/v1/models/m/versions/2")
    assert status == 200 and body["version"] == 2 and body["inputs"][0]["dim"] == [4, 1]
    assert body["loaded_versions"] == [2, 3]


def test_the_rest_version_path_runs_on_that_version_in_both_body_forms(kept_two):
    server, models = kept_two
    batch = feed(2)
    expected = local_forward(models[2], batch)
    status, body = call(server.http, "/v1/models/m/versions/2:predict", {"inputs": {"x": batch["x"].tolist()}})
    assert status == 200 and body["model_version"] == 2, body
    np.testing.assert_allclose(np.array(body["outputs"]["predict"]), expected, rtol=RTOL, atol=ATOL)
    status, body = call(server.http, "/v1/models/m/versions/2:predict", {"instances": batch["x"].tolist()})
    assert status == 200 and body["model_version"] == 2, body
    np.testing.assert_allclose(np.array(body["predictions"]), expected, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("version", ["latest", "-1", "2.0", "9" * 19])
def test_a_version_path_that_is_no_number_is_no_route(kept_two, version):
    server, _ = kept_two
    path = f"/v1/models/m/versions/{urllib.parse.quote(version)}"
    status, body = call(server.http, path)
    assert status == 404 and body["error"].startswith(f"no route GET {path};"), body
    assert "/v1/models/NAME/versions/N" in body["error"]


def test_version_paths_route_to_their_number_and_other_digits_to_none():
    assert _route("/v1/models/m/versions/12:predict") == ("predict", "m", 12)
    assert _route("/v1/models/m/versions/0") == ("status", "m", 0)  # routed, then not found: no version 0
    assert _route("/v1/models/m:predict") == ("predict", "m", None)
    # Unquoted as http.server passes it on: "²" is a digit to str.isdigit, but no number to int.
    for path in ("/v1/models/m/versions/²", "/v1/models/m/versions/", "/v1/models/m/versions/1/versions/2"):
        assert _route(path) == (None, None, None), path


def corrupt_newest(model_dir):
    """Versions 1 and 2 good, 3 with its weights cut short; returns 3's good weights."""
    for version in (1, 2, 3):
        export(model_dir, version, build(4), seed=version)
    weights = model_dir / "3" / "weights.npz"
    good = weights.read_bytes()
    weights.write_bytes(good[:40])
    return good


def test_a_restart_past_a_corrupt_newest_serves_the_one_below_and_retries_it_once_fixed(tmp_path):
    model_dir = tmp_path / "m"
    good_weights = corrupt_newest(model_dir)
    _, second = export(tmp_path / "copy", 2, build(4), seed=2)  # the same weights as m/2, for the answer
    with running_server(model_dir, tmp_path, "--poll-seconds", "0.1") as server:
        with server.client(timeout=30) as client:
            answer = client.predict(feed(2))["predict"]
            assert client.last_version == 2
            status = client.status()
        np.testing.assert_allclose(answer, local_forward(second, feed(2)), rtol=RTOL, atol=ATOL)
        assert status["version"] == 2 and status["loaded_versions"] == [2]
        assert list(status["failed_versions"]) == [3]
        why = status["failed_versions"][3]
        assert why.startswith(f"model version {model_dir / '3'} cannot be loaded: ")
        assert status["last_load_error"] == why
        assert status["counters"]["load_failures"] == 1
        assert why in server.log()
        _, body = call(server.http, "/v1/models/m")
        assert body["failed_versions"] == {"3": why}

        (model_dir / "3" / "weights.npz").write_bytes(good_weights)
        with server.client(timeout=30) as client:
            wait_until(lambda: client.status()["version"] == 3, 30, "the fixed version 3 was never served")
            status = client.status()
            client.predict(feed(2))
            assert client.last_version == 3
    assert status["failed_versions"] == {} and status["last_load_error"] == ""


def test_strict_versions_refuse_to_start_past_a_corrupt_newest(tmp_path):
    corrupt_newest(tmp_path / "m")
    result = run_server_to_exit(tmp_path / "m", "--strict-versions")
    assert result.returncode == 2, result.stderr
    assert f"matrixslow-serving: cannot start: model version {tmp_path / 'm' / '3'} cannot be loaded" in result.stderr
    assert "--strict-versions" in result.stderr


def test_a_directory_where_no_version_loads_exits_2_naming_each(tmp_path):
    model_dir = tmp_path / "m"
    corrupt_newest(model_dir)
    for version in (1, 2):
        (model_dir / str(version) / "model.json").write_text("{not json")
    result = run_server_to_exit(model_dir)
    assert result.returncode == 2, result.stderr
    assert f"cannot start: no version in {model_dir} can be loaded: " in result.stderr
    for version in (3, 2, 1):
        assert f"model version {model_dir / str(version)} cannot be loaded" in result.stderr
