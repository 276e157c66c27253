"""The store keeps the newest good versions (--keep-versions), starts past a corrupt newest one, and says why."""

import logging
import shutil

import numpy as np
import pytest

import matrixslow as ms
from matrixslow.serving.errors import ModelLoadError, ModelNotFound
from matrixslow.serving.model_store import ModelStore
from matrixslow.serving.predict import Predictor

from .support import export, local_forward


def build_dnn():
    return ms.model.dnn(4, [5], 3)


def feed():
    return {"x": np.random.default_rng(3).normal(size=(2, 4, 1))}


def corrupt(model_dir, version):
    """Truncate ``version``'s weights, as a copy cut short would."""
    weights = model_dir / str(version) / "weights.npz"
    weights.write_bytes(weights.read_bytes()[:40])


def assert_computes(store, version, model):
    loaded = store.loaded(version)
    assert loaded is not None and loaded.version == version, f"version {version} is not loaded"
    np.testing.assert_array_equal(loaded.run(feed(), ["predict"])["predict"], local_forward(model, feed()))


def test_the_newest_n_good_versions_stay_loaded_and_the_oldest_is_dropped_for_a_newer(tmp_path, caplog):
    models = {version: export(tmp_path, version, build_dnn, seed=version)[1] for version in (1, 2, 3)}
    store = ModelStore(tmp_path, keep_versions=2)
    assert store.load_initial().version == 3
    assert store.loaded_versions() == [2, 3] and store.loaded(1) is None
    assert_computes(store, 2, models[2])
    assert_computes(store, 3, models[3])

    models[4] = export(tmp_path, 4, build_dnn, seed=4)[1]
    with caplog.at_level(logging.INFO, logger="serving.model_store"):
        assert store.check_once() is True
    assert store.current.version == 4 and store.loaded_versions() == [3, 4]
    assert "version 2 is no longer loaded (--keep-versions 2)" in caplog.text
    assert_computes(store, 3, models[3])
    assert_computes(store, 4, models[4])


def test_a_pin_to_a_version_not_loaded_names_the_versions_served(tmp_path):
    for version in (1, 2, 3):
        export(tmp_path, version, build_dnn, seed=version)
    store = ModelStore(tmp_path, keep_versions=2)
    store.load_initial()
    predictor = Predictor("digits", store, batcher=None, metrics=None, max_request_bytes=1 << 20)
    assert predictor.model_for(None) is store.current
    assert predictor.model_for(2).version == 2
    for absent in (1, 7, 0):  # dropped, never existed, not a version
        with pytest.raises(ModelNotFound) as error:
            predictor.model_for(absent)
        assert error.value.message == f"model 'digits' has no version {absent} loaded; versions served: 2, 3"


def test_a_corrupt_newest_version_at_start_is_reported_and_the_one_below_is_served(tmp_path, caplog):
    _, second = export(tmp_path, 2, build_dnn, seed=2)
    export(tmp_path, 3, build_dnn, seed=3)
    good_weights = (tmp_path / "3" / "weights.npz").read_bytes()
    corrupt(tmp_path, 3)
    failures = []
    store = ModelStore(tmp_path, on_failure=failures.append)
    with caplog.at_level(logging.ERROR, logger="serving.model_store"):
        assert store.load_initial().version == 2
    assert_computes(store, 2, second)
    assert failures == [3]
    assert list(store.failed_versions()) == [3]
    why = store.failed_versions()[3]
    assert why.startswith(f"model version {tmp_path / '3'} cannot be loaded: ")
    assert why.endswith(f"; will retry when a file in {tmp_path / '3'} changes")
    assert store.last_load_error == why
    assert why in caplog.text

    assert store.check_once() is False and failures == [3]  # unchanged files are not read again
    (tmp_path / "3" / "weights.npz").write_bytes(good_weights)  # the copy completed: the watcher's next look
    _, third = export(tmp_path, 3, build_dnn, seed=3)
    assert store.check_once() is True
    assert store.current.version == 3 and store.failed_versions() == {} and store.last_load_error == ""
    assert_computes(store, 3, third)


def test_keeping_two_skips_a_corrupt_version_between_two_good_ones(tmp_path):
    models = {version: export(tmp_path, version, build_dnn, seed=version)[1] for version in (1, 2, 3)}
    (tmp_path / "2" / "model.json").write_text("{not json")
    store = ModelStore(tmp_path, keep_versions=2)
    store.load_initial()
    assert store.loaded_versions() == [1, 3]
    assert list(store.failed_versions()) == [2] and str(tmp_path / "2") in store.failed_versions()[2]
    assert_computes(store, 1, models[1])


def test_no_loadable_version_is_fatal_naming_each_version_and_its_reason(tmp_path):
    for version in (1, 2):
        export(tmp_path, version, build_dnn, seed=version)
    corrupt(tmp_path, 2)
    (tmp_path / "1" / "model.json").write_text("{not json")
    failures = []
    with pytest.raises(ModelLoadError, match=f"no version in {tmp_path} can be loaded: ") as error:
        ModelStore(tmp_path, on_failure=failures.append).load_initial()
    assert f"model version {tmp_path / '2'} cannot be loaded" in str(error.value)
    assert f"model version {tmp_path / '1'} cannot be loaded" in str(error.value)
    assert failures == [2, 1]


def test_strict_versions_make_a_corrupt_newest_fatal_though_an_older_one_loads(tmp_path):
    export(tmp_path, 1, build_dnn, seed=1)
    export(tmp_path, 2, build_dnn, seed=2)
    corrupt(tmp_path, 2)
    with pytest.raises(ModelLoadError, match=r"--strict-versions") as error:
        ModelStore(tmp_path, strict=True).load_initial()
    assert str(error.value).startswith(f"model version {tmp_path / '2'} cannot be loaded: ")


def test_a_failure_is_no_longer_reported_once_its_version_is_removed(tmp_path):
    export(tmp_path, 1, build_dnn, seed=1)
    export(tmp_path, 2, build_dnn, seed=2)
    corrupt(tmp_path, 2)
    store = ModelStore(tmp_path)
    store.load_initial()
    assert list(store.failed_versions()) == [2]
    shutil.rmtree(tmp_path / "2")
    assert store.check_once() is False
    assert store.failed_versions() == {} and store.last_load_error == ""


def test_keep_versions_below_one_is_refused():
    with pytest.raises(ValueError, match="keep_versions must be at least 1, got 0"):
        ModelStore("anywhere", keep_versions=0)
