"""A model version whose files are bad in a way the Saver did not foresee is reported like any bad version.

The weights file holds a member that is a raw pickle stream, not .npy data (with
its sha256 recorded, so that only the content is at fault). Hot reload must show
it in ``last_load_error`` and count the failure; startup must refuse it with a
message naming the file, not a traceback.
"""

import io
import zipfile

import numpy as np

from matrixslow.serving.model_store import ModelStore
from tests.trainer.model_files import npz_of, raw_pickle, write_weights

from .support import export, run_server_to_exit
from .test_model_store import build_dnn


def spoil_with_raw_pickle(version_dir):
    """Replace one weights member by a raw pickle stream; return the weights file's path and that member's name."""
    path = version_dir / "weights.npz"
    with zipfile.ZipFile(io.BytesIO(path.read_bytes())) as archive:
        members = {name: np.lib.format.read_array(archive.open(name)) for name in archive.namelist()}
    first = next(iter(members))
    members[first] = raw_pickle()
    write_weights(version_dir, npz_of(version_dir / "spoiled.npz", members))
    (version_dir / "spoiled.npz").unlink()
    return path, first


def test_hot_reload_reports_and_counts_a_raw_pickle_member(tmp_path):
    export(tmp_path, 1, build_dnn)
    failures = []
    store = ModelStore(tmp_path, on_failure=failures.append)
    store.load_initial()
    export(tmp_path, 2, build_dnn, seed=1)
    weights_path, member = spoil_with_raw_pickle(tmp_path / "2")
    assert store.check_once() is False
    assert store.current.version == 1
    assert str(weights_path) in store.last_load_error and f"'{member}'" in store.last_load_error
    assert "not .npy data" in store.last_load_error
    assert failures == [2]
    assert store.check_once() is False and failures == [2]  # unchanged files are not tried again


def test_startup_with_only_a_raw_pickle_version_exits_naming_the_file_without_a_traceback(tmp_path):
    export(tmp_path, 1, build_dnn)
    weights_path, member = spoil_with_raw_pickle(tmp_path / "1")
    result = run_server_to_exit(tmp_path)
    assert result.returncode != 0, result.stderr
    assert str(weights_path) in result.stderr and f"'{member}'" in result.stderr
    assert "Traceback" not in result.stderr
