"""A version that fails to load is retried once a file in it changes: copies that land out of order still get served."""

import os
import shutil

import numpy as np

import matrixslow as ms
from matrixslow.serving.model_store import ModelStore, version_fingerprint

from .support import export, local_forward, wait_until


def build_dnn():
    return ms.model.dnn(4, [5], 3)


def serving_version_1(tmp_path, **store_options):
    """A store serving ``models/1``, and version 2 saved by the Saver in ``staging/2`` (model, files there)."""
    models, staging = tmp_path / "models", tmp_path / "staging"
    export(models, 1, build_dnn, seed=1)
    _, model = export(staging, 2, build_dnn, seed=2)
    failures = []
    store = ModelStore(models, on_failure=failures.append, **store_options)
    store.load_initial()
    (models / "2").mkdir()
    return store, model, staging / "2", models / "2", failures


def assert_serves(store, version, model):
    batch = {"x": np.random.default_rng(4).normal(size=(3, 4, 1))}
    assert store.current.version == version and store.last_load_error == ""
    np.testing.assert_array_equal(store.current.run(batch, ["predict"])["predict"], local_forward(model, batch))


def test_the_fingerprint_changes_with_any_name_size_or_modification_time(tmp_path):
    (tmp_path / "model.json").write_text("{}")
    before = version_fingerprint(tmp_path)
    assert [name for name, _, _ in before] == ["model.json"]
    assert version_fingerprint(tmp_path) == before
    (tmp_path / "weights.npz").write_bytes(b"12")
    added = version_fingerprint(tmp_path)
    assert added != before
    (tmp_path / "weights.npz").write_bytes(b"1234")
    grown = version_fingerprint(tmp_path)
    assert grown != added
    stat = (tmp_path / "weights.npz").stat()
    os.utime(tmp_path / "weights.npz", ns=(stat.st_atime_ns, stat.st_mtime_ns + 1))  # same size, touched
    assert version_fingerprint(tmp_path) != grown
    assert version_fingerprint(tmp_path / "absent") == ()


def test_model_json_copied_before_its_weights_is_served_once_they_arrive(tmp_path):
    store, model, staged, copy, failures = serving_version_1(tmp_path)
    shutil.copy2(staged / "model.json", copy / "model.json")
    assert store.check_once() is False
    assert store.current.version == 1
    assert str(copy) in store.last_load_error
    assert store.last_load_error.endswith(f"; will retry when a file in {copy} changes")
    assert store.check_once() is False and failures == [2]  # nothing changed: not read again

    shutil.copy2(staged / "weights.npz", copy / "weights.npz")
    assert store.check_once() is True
    assert_serves(store, 2, model)
    assert failures == [2]


def test_weights_copied_truncated_then_completed_are_served_once_complete(tmp_path):
    store, model, staged, copy, failures = serving_version_1(tmp_path)
    weights = (staged / "weights.npz").read_bytes()
    shutil.copy2(staged / "model.json", copy / "model.json")
    (copy / "weights.npz").write_bytes(weights[: len(weights) // 2])
    assert store.check_once() is False
    assert store.current.version == 1
    assert "will retry when a file in" in store.last_load_error
    assert store.check_once() is False and failures == [2]

    with open(copy / "weights.npz", "ab") as rest:
        rest.write(weights[len(weights) // 2 :])
    assert store.check_once() is True
    assert_serves(store, 2, model)


def test_a_failing_highest_version_is_not_skipped_for_a_lower_one(tmp_path):
    store, model, staged, copy, failures = serving_version_1(tmp_path)
    shutil.copytree(staged, copy, dirs_exist_ok=True)  # a good version 2 ...
    (tmp_path / "models" / "3").mkdir()
    shutil.copy2(staged / "model.json", tmp_path / "models" / "3" / "model.json")  # ... under a half-copied 3
    assert store.check_once() is False
    assert store.current.version == 1 and failures == [3]
    assert f"will retry when a file in {tmp_path / 'models' / '3'} changes" in store.last_load_error


def test_the_watcher_retries_a_version_whose_weights_arrive_late(tmp_path):
    store, model, staged, copy, failures = serving_version_1(tmp_path, poll_seconds=0.02)
    store.start_watching()
    try:
        shutil.copy2(staged / "model.json", copy / "model.json")
        wait_until(lambda: failures, 30, "the watcher never tried the half-copied version 2")
        assert store.current.version == 1 and "will retry" in store.last_load_error
        shutil.copy2(staged / "weights.npz", copy / "weights.npz")
        wait_until(lambda: store.current.version == 2, 30, "the watcher did not retry version 2 once its weights came")
    finally:
        store.stop()
    assert_serves(store, 2, model)
    assert set(failures) == {2}  # a copy seen half-written may fail once more, but nothing else failed
