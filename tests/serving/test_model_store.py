"""Versions on disk, loading into a graph of its own, and swapping in new versions (or keeping the old one)."""

import threading

import numpy as np
import pytest

import matrixslow as ms
from matrixslow import serving
from matrixslow.serving.errors import ModelLoadError
from matrixslow.serving.model_store import ModelStore, list_versions, load_version

from .support import export, local_forward, running_server, wait_until


def build_dnn():
    return ms.model.dnn(4, [5], 3)


def feed(n=6, seed=1):
    return {"x": np.random.default_rng(seed).normal(size=(n, 4, 1))}


def test_versions_are_numbered_directories_holding_model_json(tmp_path):
    for version in (1, 2, 10):
        export(tmp_path, version, build_dnn)
    (tmp_path / "11").mkdir()  # being written: no model.json yet
    (tmp_path / "0").mkdir()
    (tmp_path / "latest").mkdir()
    (tmp_path / "notes.txt").write_text("x")
    assert list_versions(tmp_path) == [1, 2, 10]
    assert list_versions(tmp_path / "missing") == []


def test_a_loaded_version_computes_what_the_saved_graph_computed(tmp_path):
    _, model = export(tmp_path, 3, build_dnn, seed=7)
    loaded = load_version(tmp_path, 3)
    assert loaded.version == 3 and list(loaded.inputs) == ["x"] and list(loaded.outputs) == ["predict"]
    assert loaded.output_dims == {"predict": (3, 1)} and loaded.meta["seed"] == 7
    batch = feed()
    expected = local_forward(model, batch)
    np.testing.assert_allclose(loaded.run(batch, ["predict"])["predict"], expected, rtol=1e-12, atol=1e-15)


def test_startup_refuses_a_missing_or_empty_directory_naming_it(tmp_path):
    with pytest.raises(ModelLoadError, match=f"model directory {tmp_path / 'absent'} does not exist"):
        ModelStore(tmp_path / "absent").load_initial()
    with pytest.raises(ModelLoadError, match=f"model directory {tmp_path} holds no model version: expected"):
        ModelStore(tmp_path).load_initial()


def test_a_corrupt_version_is_refused_naming_its_directory(tmp_path):
    export(tmp_path, 1, build_dnn)
    (tmp_path / "1" / "weights.npz").write_bytes(b"not a zip file")
    with pytest.raises(ModelLoadError, match=f"model version {tmp_path / '1'} cannot be loaded"):
        load_version(tmp_path, 1)


def test_a_signature_that_does_not_fit_the_graph_is_refused(tmp_path):
    with ms.core.Graph() as graph:
        model = build_dnn()
        ms.trainer.Saver(tmp_path / "1").save(graph, service_signature={"inputs": ["x"], "outputs": ["nope"]})
        ms.trainer.Saver(tmp_path / "2").save(graph, service_signature={"inputs": ["label"], "outputs": ["predict"]})
        ms.trainer.Saver(tmp_path / "3").save(graph, service_signature={"outputs": ["predict"]})
        ms.trainer.Saver(tmp_path / "4").save(graph, service_signature={"inputs": ["x"], "outputs": [model.loss.name]})
    with pytest.raises(ModelLoadError, match="signature output 'nope' is not a node of the graph"):
        load_version(tmp_path, 1)
    # "predict" does not need "label": the trial pass finds x without a value.
    with pytest.raises(ModelLoadError, match="a trial forward pass failed: .*'x' has no value"):
        load_version(tmp_path, 2)
    with pytest.raises(ModelLoadError, match="service signature 'inputs' must be"):
        load_version(tmp_path, 3)
    with pytest.raises(ModelLoadError, match="a trial forward pass failed: .*'label' has no value"):
        load_version(tmp_path, 4)


def test_a_newer_version_is_swapped_in_and_a_failing_one_leaves_the_old_serving(tmp_path):
    export(tmp_path, 1, build_dnn, seed=1)
    store = ModelStore(tmp_path)
    assert store.load_initial().version == 1
    assert store.check_once() is False

    export(tmp_path, 3, build_dnn, seed=3)
    weights = tmp_path / "3" / "weights.npz"
    good_weights = weights.read_bytes()
    weights.write_bytes(b"torn")
    assert store.check_once() is False
    assert store.current.version == 1
    assert str(tmp_path / "3") in store.last_load_error
    assert store.check_once() is False  # not retried while no file in it changed

    weights.write_bytes(good_weights)
    _, model = export(tmp_path, 3, build_dnn, seed=3)  # a fresh save, so the model below is version 3's
    assert store.check_once() is True
    assert store.current.version == 3 and store.last_load_error == ""
    batch = feed()
    np.testing.assert_allclose(store.current.run(batch, ["predict"])["predict"], local_forward(model, batch))


def test_the_watcher_thread_finds_new_versions(tmp_path):
    export(tmp_path, 1, build_dnn)
    swapped = []
    store = ModelStore(tmp_path, poll_seconds=0.05, on_swap=lambda model: swapped.append(model.version))
    store.load_initial()
    store.start_watching()
    try:
        export(tmp_path, 2, build_dnn, seed=2)
        wait_until(lambda: store.current.version == 2, 30, "the watcher did not load version 2")
    finally:
        store.stop()
    assert swapped == [1, 2]


def test_hot_swap_under_load_drops_no_request(tmp_path):
    """Clients keep asking while version 2 appears; every answer is version 1's or version 2's, exactly."""
    _, first = export(tmp_path, 1, build_dnn, seed=1)
    batch = feed(n=3)
    expected = {1: local_forward(first, batch)}
    answers, errors, stop = [], [], threading.Event()

    def ask(server):
        with server.client(timeout=30) as client:
            while not stop.is_set():
                try:
                    output = client.predict(batch)["predict"]
                except serving.ServingError as error:
                    errors.append(error)
                    return
                answers.append((client.last_version, output))

    with running_server(tmp_path, tmp_path, "--poll-seconds", "0.1", http=False) as server:
        threads = [threading.Thread(target=ask, args=(server,)) for _ in range(4)]
        for thread in threads:
            thread.start()
        try:
            wait_until(lambda: len(answers) > 20, 60, "no answers from version 1")
            _, second = export(tmp_path, 2, build_dnn, seed=2)
            expected[2] = local_forward(second, batch)
            wait_until(lambda: sum(version == 2 for version, _ in answers[-50:]) > 20, 60, "version 2 never answered")
        finally:
            stop.set()
            for thread in threads:
                thread.join(60)
        with server.client() as client:
            assert client.status()["version"] == 2
    assert errors == []
    assert {version for version, _ in answers} == {1, 2}
    assert not np.allclose(expected[1], expected[2])
    for version, output in answers:
        np.testing.assert_allclose(output, expected[version], rtol=1e-12, atol=1e-15)
