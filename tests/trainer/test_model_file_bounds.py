"""Every bad model file is a ModelFileError naming the file, and no file makes a load allocate more than it bounds.

Bad files are written by hand into a directory a Saver filled with a good model.
The bomb runs in a subprocess, whose peak resident memory tells what the load cost.
"""

import io
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import matrixslow as ms
from matrixslow.trainer import Saver, model_limits, model_reader
from matrixslow.trainer.model_writer import npz_bytes

from .model_files import (
    npz_of,
    raw_pickle,
    read_model,
    save_good_model,
    save_matmul_model,
    write_bomb,
    write_model,
    write_weights,
)
from .test_saver import expect_model_file_error as load_error

REPO = Path(__file__).resolve().parents[2]


def saved_arrays(directory):
    with np.load(directory / "weights.npz") as weights:
        return {name: weights[name] for name in weights.files}


# -- weights members that are not what they say -----------------------------------


def test_a_member_that_is_a_raw_pickle_stream_is_named(tmp_path):
    save_good_model(tmp_path)
    arrays = saved_arrays(tmp_path)
    first = next(iter(arrays))
    members = {f"{name}.npy": value for name, value in arrays.items()} | {f"{first}.npy": raw_pickle()}
    write_weights(tmp_path, npz_of(tmp_path / "bad.npz", members))
    load_error(tmp_path, str(tmp_path / "weights.npz"), f"'{first}.npy'", "not .npy data")


def test_a_member_whose_size_disagrees_with_its_header_is_refused(tmp_path):
    save_good_model(tmp_path)
    arrays = saved_arrays(tmp_path)
    name = next(iter(arrays))
    # The header declares the model's shape, and the data goes on for 1000 more numbers.
    members = {f"{other}.npy": value for other, value in arrays.items()}
    members[f"{name}.npy"] = npy_bytes(arrays[name]) + bytes(8000)
    write_weights(tmp_path, npz_of(tmp_path / "bad.npz", members))
    load_error(tmp_path, str(tmp_path / "weights.npz"), f"'{name}.npy'", "header declares", str(arrays[name].shape))


def npy_bytes(array):
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array)
    return buffer.getvalue()


def test_a_member_the_model_file_does_not_list_is_refused_before_its_data_is_read(tmp_path):
    save_good_model(tmp_path)
    arrays = saved_arrays(tmp_path) | {"intruder": np.zeros((2, 2))}
    write_weights(tmp_path, npz_bytes(arrays))
    load_error(tmp_path, "'intruder'", "no saved Variable")


def test_a_weights_file_that_is_a_single_npy_array_is_named(tmp_path):
    save_good_model(tmp_path)
    write_weights(tmp_path, npy_bytes(np.zeros((3, 4))))
    load_error(tmp_path, str(tmp_path / "weights.npz"), "single .npy array")


# -- the decompression bomb ------------------------------------------------------------

_MEASURE = textwrap.dedent(
    """
    import resource, sys, time
    import matrixslow as ms
    from matrixslow.trainer import ModelFileError, Saver
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    try:
        Saver(sys.argv[1]).load(ms.core.Graph())
        outcome = "loaded"
    except ModelFileError as error:
        outcome = "ModelFileError: " + str(error)
    seconds = time.perf_counter() - start
    over = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - baseline) / 1024  # ru_maxrss is in KiB here
    print(f"{over:.1f} {seconds:.3f} {outcome}")
    """
)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="ru_maxrss is in KiB on Linux")
def test_a_decompression_bomb_is_refused_from_its_header_at_a_cost_of_kilobytes(tmp_path):
    # A 256 MiB member in a ~1 MiB file, where the model file says (3, 8) : reading it would cost 256 MiB.
    save_matmul_model(tmp_path, 3, 8)
    bomb = write_bomb(tmp_path / "bomb.npz", "w.npy", (4096, 8192))
    assert bomb.stat().st_size < 2 * 2**20
    write_weights(tmp_path, bomb.read_bytes())
    result = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(tmp_path)], capture_output=True, text=True, timeout=60, cwd=REPO
    )
    assert result.returncode == 0, result.stderr
    over_mib, seconds, outcome = result.stdout.split(" ", 2)
    assert outcome.startswith("ModelFileError:") and "'w'" in outcome and "(4096, 8192)" in outcome, outcome
    assert float(over_mib) < 50, f"the refused bomb raised the peak memory by {over_mib} MiB"
    assert float(seconds) < 1.0, f"the refused bomb took {seconds} s"


# -- dims and sizes ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dim", "bound"),
    [([10**12, 10**12], "MAX_AXIS_LENGTH"), ([2**25, 1], "MAX_AXIS_LENGTH"), ([2**13, 2**14], "MAX_VARIABLE_ELEMENTS")],
)
def test_a_dim_past_the_bounds_is_refused_naming_node_file_and_bound(tmp_path, dim, bound):
    save_good_model(tmp_path)
    model = read_model(tmp_path)
    next(entry for entry in model["graph"] if entry["name"] == "x")["dim"] = dim
    write_model(tmp_path, model)
    load_error(tmp_path, str(tmp_path / "model.json"), "node 'x'", str(dim), bound)


def test_the_dim_bounds_are_what_the_constants_say():
    axis, limit = model_limits.MAX_AXIS_LENGTH, model_limits.MAX_VARIABLE_ELEMENTS
    assert model_limits.dim_problem((axis, limit // axis)) is None
    assert "MAX_VARIABLE_ELEMENTS" in model_limits.dim_problem((axis, limit // axis + 1))
    assert "MAX_AXIS_LENGTH" in model_limits.dim_problem((axis + 1, 1))


def test_weights_past_the_total_bound_are_refused_before_their_data_is_read(tmp_path, monkeypatch):
    save_matmul_model(tmp_path, 3, 8)
    monkeypatch.setattr(model_reader, "MAX_WEIGHTS_ELEMENTS", 23)
    load_error(tmp_path, str(tmp_path / "weights.npz"), "24 numbers", "MAX_WEIGHTS_ELEMENTS")


def test_a_model_file_past_its_size_bound_is_refused(tmp_path, monkeypatch):
    save_good_model(tmp_path)
    size = (tmp_path / "model.json").stat().st_size
    monkeypatch.setattr(model_reader, "MAX_MODEL_FILE_BYTES", size - 1)
    load_error(tmp_path, str(tmp_path / "model.json"), f"larger than {size - 1} bytes")


# -- nesting and types in the model file ---------------------------------------------------


@pytest.mark.parametrize("depth", [100_000, model_limits.MAX_JSON_DEPTH + 1])
def test_json_nested_too_deep_is_refused_naming_the_file(tmp_path, depth):
    save_good_model(tmp_path)
    model = read_model(tmp_path)
    model["meta"] = "HOLE"
    text = json.dumps(model).replace('"HOLE"', '{"a": ' * depth + "1" + "}" * depth)
    (tmp_path / "model.json").write_text(text)
    load_error(tmp_path, str(tmp_path / "model.json"), "nested")


def test_json_nested_up_to_the_bound_loads(tmp_path):
    save_good_model(tmp_path)
    model = read_model(tmp_path)
    deep = 1
    for _ in range(model_limits.MAX_JSON_DEPTH - 2):  # the model object and meta itself are two levels
        deep = {"a": deep}
    model["meta"] = {"a": deep}
    write_model(tmp_path, model)
    meta, _ = Saver(tmp_path).load(ms.core.Graph())
    assert meta == model["meta"]


def test_an_integer_too_long_for_python_is_refused(tmp_path):
    save_good_model(tmp_path)
    text = (tmp_path / "model.json").read_text()
    (tmp_path / "model.json").write_text(text.replace('"format_version": 1', '"format_version": 1' + "0" * 5000))
    load_error(tmp_path, str(tmp_path / "model.json"), "not a readable JSON")


@pytest.mark.parametrize(
    ("field", "value", "named"),
    [("service", [1, 2], "'service'"), ("meta", "text", "'meta'"), ("graph", {"x": 1}, "'graph'")],
)
def test_a_top_level_field_of_the_wrong_type_is_named(tmp_path, field, value, named):
    save_good_model(tmp_path)
    model = read_model(tmp_path)
    model[field] = value
    write_model(tmp_path, model)
    load_error(tmp_path, str(tmp_path / "model.json"), named)


def test_a_saved_value_claimed_by_a_computed_node_is_named(tmp_path):
    save_good_model(tmp_path)
    model = read_model(tmp_path)
    next(entry for entry in model["graph"] if entry["name"] == "predict")["has_saved_value"] = True
    write_model(tmp_path, model)
    load_error(tmp_path, "node 'predict'", "has_saved_value")


def test_anything_unexpected_while_reading_is_a_model_file_error_naming_the_file(tmp_path, monkeypatch):
    save_good_model(tmp_path)

    def broken(*args):
        raise AttributeError("'bytes' object has no attribute 'dtype'")

    monkeypatch.setattr(model_reader, "_check_model", broken)
    error = load_error(tmp_path, str(tmp_path / "model.json"), "AttributeError")
    assert isinstance(error.__cause__, AttributeError)


def test_memory_errors_are_not_blamed_on_the_file(tmp_path, monkeypatch):
    save_good_model(tmp_path)

    def exhausted(*args):
        raise MemoryError

    monkeypatch.setattr(model_reader, "_check_model", exhausted)
    with pytest.raises(MemoryError):
        Saver(tmp_path).load(ms.core.Graph())
