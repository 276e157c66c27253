"""``python -m matrixslow.serving`` end to end: every builder, many clients, health, status, refusal, SIGTERM."""

import http.client
import json
import threading

import numpy as np
import pytest

import matrixslow as ms
from matrixslow import serving

from ..model.cases import SMALL
from .support import export, local_forward, run_server_to_exit, running_server, wait_until

RTOL, ATOL = 1e-12, 1e-14  # a batch of B and a batch of 1 may round the last bit differently


@pytest.mark.parametrize("builder", sorted(SMALL))
def test_every_builder_answers_what_a_local_forward_pass_gives(builder, tmp_path):
    instance = SMALL[builder]
    _, model = export(tmp_path / builder, 1, instance.build, seed=3)
    x, _ = instance.data(np.random.default_rng(4), 6)
    batch = model.feed(x)
    expected = local_forward(model, batch)
    with running_server(tmp_path / builder, tmp_path, http=False) as server, server.client(timeout=30) as client:
        answer = client.predict(batch)
        output = model.predict.name
        assert list(answer) == [model.predict.name]
        np.testing.assert_allclose(answer[output], expected, rtol=RTOL, atol=ATOL)
        one = client.predict({name: value[2] for name, value in batch.items()})[output]
        assert one.shape == instance.logits_dim
        np.testing.assert_allclose(one, expected[2], rtol=RTOL, atol=ATOL)
        status = client.status()
    assert [spec["name"] for spec in status["inputs"]] == [node.name for node in model.inputs]
    assert [spec["dim"] for spec in status["inputs"]] == [node.dim for node in model.inputs]


@pytest.fixture(scope="module")
def digits_server(tmp_path_factory):
    """A digits-sized MLP (64 inputs) served with the default flags: (server, local model)."""
    directory = tmp_path_factory.mktemp("digits")
    _, model = export(directory / "digits", 1, lambda: ms.model.dnn(64, [32], 10), seed=11)
    with running_server(directory / "digits", directory, "--batch-timeout-ms", "2") as server:
        yield server, model


def test_16_clients_times_200_requests_are_all_answered_exactly(digits_server):
    server, model = digits_server
    pool = np.random.default_rng(0).normal(size=(64, 64, 1))
    expected = local_forward(model, {"x": pool})
    failures = []

    def client_thread(seed):
        rng = np.random.default_rng(seed)
        with server.client(timeout=60) as client:
            for _ in range(200):
                rows = rng.integers(0, len(pool), rng.integers(1, 4))
                try:
                    answer = client.predict({"x": pool[rows]})["predict"]
                    np.testing.assert_allclose(answer, expected[rows], rtol=RTOL, atol=ATOL)
                except Exception as error:  # collected: an assert in a thread would be lost
                    failures.append(error)
                    return

    threads = [threading.Thread(target=client_thread, args=(seed,)) for seed in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert failures == []
    with server.client() as client:
        counters = client.status()["counters"]
    assert counters["requests"] >= 16 * 200


def test_health_and_status(digits_server):
    server, model = digits_server
    with server.client(timeout=30) as client:
        assert client.health() == "SERVING"
        assert client.health("serving.ModelService") == "SERVING"
        with pytest.raises(serving.ServingError) as unknown:
            client.health("no.such.Service")
        assert unknown.value.code.name == "NOT_FOUND"
        status = client.status()
    assert status["model_name"] == "digits" and status["version"] == 1 and status["available_versions"] == [1]
    assert status["inputs"] == [{"name": "x", "dim": (64, 1), "dtype": "float64"}]
    assert status["outputs"] == [{"name": "predict", "dim": (10, 1), "dtype": "float64"}]
    assert status["last_load_error"] == ""
    assert {"requests", "errors", "expired", "rejected_queue_full", "batches", "samples_computed"} <= set(
        status["counters"]
    )


def test_unknown_model_names_are_not_found(digits_server):
    server, _ = digits_server
    client = serving.Client(server.address, model_name="other", timeout=30)
    with client, pytest.raises(serving.ServingError, match="model 'other' is not served here") as error:
        client.predict({"x": np.zeros((64, 1))})
    assert error.value.code.name == "NOT_FOUND"


def test_a_64_mb_tensor_passes(digits_server):
    server, model = digits_server
    x = np.random.default_rng(2).normal(size=(2**17, 64, 1))  # 2**17 * 64 * 8 bytes = 64 MiB
    assert x.nbytes == 64 * 2**20
    with server.client(timeout=120) as client:
        answer = client.predict({"x": x})["predict"]
    assert answer.shape == (2**17, 10, 1)
    rows = np.arange(0, 2**17, 4099)
    np.testing.assert_allclose(answer[rows], local_forward(model, {"x": x[rows]}), rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("problem", ["missing", "empty", "corrupt"])
def test_the_server_refuses_to_start_without_a_loadable_model_naming_the_directory(tmp_path, problem):
    model_dir = tmp_path / "models"
    if problem != "missing":
        model_dir.mkdir()
    if problem == "corrupt":
        export(model_dir, 1, lambda: ms.model.dnn(3, [2], 2))
        (model_dir / "1" / "model.json").write_text("{not json")
    result = run_server_to_exit(model_dir)
    assert result.returncode == 2, result.stderr
    assert "matrixslow-serving: cannot start:" in result.stderr
    assert str(model_dir) in result.stderr


def test_a_second_server_on_a_port_in_use_refuses_to_start_naming_it(tmp_path):
    # gRPC turns SO_REUSEPORT on by default: without turning it off, the second server would
    # start and silently share the first one's connections.
    export(tmp_path / "m", 1, lambda: ms.model.dnn(3, [2], 2))
    with running_server(tmp_path / "m", tmp_path, http=False) as first:
        port = first.address.rsplit(":", 1)[1]
        result = run_server_to_exit(tmp_path / "m", port=port)
    assert result.returncode == 2, result.stderr
    assert f"the gRPC server cannot listen on 127.0.0.1:{port}: the port is in use" in result.stderr


def test_sigterm_finishes_the_requests_in_flight_and_exits_0(tmp_path):
    _, model = export(tmp_path / "m", 1, lambda: ms.model.dnn(4, [3], 2), seed=2)
    x = np.random.default_rng(0).normal(size=(2, 4, 1))
    answers = {}
    # A long batch window keeps both requests queued when SIGTERM arrives.
    with running_server(tmp_path / "m", tmp_path, "--batch-timeout-ms", "1500", "--batch-wait", "always") as server:
        host, port = server.http.rsplit(":", 1)
        idle = http.client.HTTPConnection(host, int(port), timeout=30)  # kept open: must not hold up the exit
        idle.request("GET", "/v1/models/m")
        assert idle.getresponse().read()

        def ask_grpc():
            with server.client(timeout=60) as client:
                answers["grpc"] = client.predict({"x": x})["predict"]

        def ask_http():
            connection = http.client.HTTPConnection(host, int(port), timeout=60)
            connection.request("POST", "/v1/models/m:predict", json.dumps({"inputs": {"x": x.tolist()}}))
            response = connection.getresponse()
            answers["http"] = (response.status, json.loads(response.read()))

        threads = [threading.Thread(target=ask_grpc), threading.Thread(target=ask_http)]
        for thread in threads:
            thread.start()
        with server.client(timeout=30) as watcher:
            wait_until(lambda: watcher.status()["counters"]["queue_depth"] == 2, 30, "the requests never queued")
        assert server.terminate() == 0
        for thread in threads:
            thread.join(60)
        idle.close()
        assert "stopped" in server.log()
    expected = local_forward(model, {"x": x})
    np.testing.assert_allclose(answers["grpc"], expected, rtol=RTOL, atol=ATOL)
    status, body = answers["http"]
    assert status == 200
    np.testing.assert_allclose(np.array(body["outputs"]["predict"]), expected, rtol=RTOL, atol=ATOL)
