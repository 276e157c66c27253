"""The saver: a saved graph rebuilds into an empty graph and predicts exactly as the original did.

Every test writes into its own ``tmp_path``. Bad files are made by hand (with
plain ``json`` and ``np.savez``) and must fail with a ModelFileError that names
the file and, where there is one, the node.
"""

import datetime
import hashlib
import json
import os

import numpy as np
import pytest

import matrixslow as ms
from matrixslow.core import Variable
from matrixslow.ops import (
    Add,
    Concat,
    MatMul,
    Multiply,
    ReLU,
    Reshape,
    SoftMax,
    Step,
    Sum,
    Tanh,
    Transpose,
    Welding,
)
from matrixslow.ops.loss import CrossEntropyWithSoftMax, LogLoss, MeanSquaredError, PerceptionLoss
from matrixslow.trainer import ModelFileError, Saver
from matrixslow.trainer import saver as saver_module

BATCH = 5


def _input(name, rows, cols=1):
    return Variable((rows, cols), init=False, trainable=False, name=name)


def build_mlp(rng):
    """fc layers with every activation, an explicit leaky slope, SoftMax and cross-entropy."""
    x, label = _input("x", 4), _input("label", 3)
    hidden = ReLU(ms.layer.fc(x, 4, 8, None), nslope=0.25)
    hidden = ms.layer.fc(hidden, 8, 8, "Tanh")
    hidden = ms.layer.fc(hidden, 8, 6, "Logistic")
    logits = ms.layer.fc(hidden, 6, 3, None)
    SoftMax(logits, name="predict")
    CrossEntropyWithSoftMax(logits, label, name="loss")
    inputs = {"x": rng.normal(size=(BATCH, 4, 1)), "label": np.eye(3)[rng.integers(0, 3, BATCH)][:, :, None]}
    return inputs, ["predict", "loss"]


def build_cnn(rng):
    """Reshape, the conv layer (Convolve, ScalarMultiply, a constant of ones), MaxPooling, Concat, fc."""
    x = _input("x", 36)
    image = Reshape(x, shape=(6, 6))
    maps = ms.layer.conv([image], (6, 6), 2, (3, 3), "ReLU")
    # An asymmetric window and stride: swapped or lost keyword arguments change the output shape.
    pooled = ms.layer.pooling(maps, (3, 2), (2, 3))
    logits = ms.layer.fc(Concat(*pooled), 2 * 3 * 2, 3, None)
    SoftMax(logits, name="predict")
    return {"x": rng.normal(size=(BATCH, 36, 1))}, ["predict"]


def build_rnn(rng):
    """An RNN whose Welding is created before the step it is welded to, and every remaining loss."""
    last_state = Welding(name="last_state")
    logit = ms.layer.fc(last_state, 5, 1, None)
    steps = [_input(f"x{t}", 3) for t in range(4)]
    u, w, b = Variable((5, 3), init=True), Variable((5, 5), init=True), Variable((5, 1), init=True)
    state = None
    for x in steps:
        h = Add(MatMul(u, x), b)
        if state is not None:
            h = Add(MatMul(w, state), h)
        state = Tanh(h)
    last_state.weld(state)
    sign, label01 = _input("sign", 1), _input("label01", 1)
    LogLoss(Multiply(sign, logit), name="log_loss")
    LogLoss(logit, label01, name="log_loss_01")
    PerceptionLoss(Multiply(sign, logit), name="perception_loss")
    MeanSquaredError(logit, label01, name="mse")
    Sum(Transpose(state), name="state_sum")
    Step(logit, name="step")
    labels = rng.integers(0, 2, (BATCH, 1, 1)).astype(float)
    inputs = {f"x{t}": rng.normal(size=(BATCH, 3, 1)) for t in range(4)}
    inputs.update(sign=2 * labels - 1, label01=labels)
    return inputs, ["log_loss", "log_loss_01", "perception_loss", "mse", "state_sum", "step"]


BUILDERS = {"mlp": build_mlp, "cnn": build_cnn, "rnn": build_rnn}


def predict(graph, inputs, outputs):
    for name, value in inputs.items():
        graph.get(name).set_value(value)
    return {name: graph.get(name).forward().copy() for name in outputs}


def saved_model(tmp_path, builder="mlp", dtype=None, **save_args):
    """Build a model in a graph of its own, save it, and return its graph, inputs, outputs and predictions."""
    with ms.core.Graph(dtype=dtype) as original:
        inputs, outputs = BUILDERS[builder](np.random.default_rng(1))
    expected = predict(original, inputs, outputs)
    Saver(tmp_path).save(original, **save_args)
    return original, inputs, outputs, expected


def load_fresh(directory, **load_args):
    graph = ms.core.Graph()
    meta, service = Saver(directory).load(graph, **load_args)
    return graph, meta, service


def read_model(directory):
    return json.loads((directory / "model.json").read_text())


def write_model(directory, model):
    (directory / "model.json").write_text(json.dumps(model))


def rewrite_weights(directory, data):
    """Replace the weights file by ``data`` (bytes, or a dict of arrays for np.savez) with a matching checksum.

    So that only the content of the file, not the checksum, can make the load fail.
    """
    path = directory / "weights.npz"
    if isinstance(data, dict):
        np.savez(path, **data)
    else:
        path.write_bytes(data)
    model = read_model(directory)
    model["weights_sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    write_model(directory, model)


def first_trainable(graph):
    return next(node for node in graph.nodes if getattr(node, "trainable", False))


# -- round trips --------------------------------------------------------------------


@pytest.mark.parametrize("builder", sorted(BUILDERS))
def test_a_model_loaded_into_an_empty_graph_predicts_exactly_as_the_saved_one(tmp_path, builder):
    original, inputs, outputs, expected = saved_model(tmp_path, builder)
    loaded, _, _ = load_fresh(tmp_path)
    assert [node.name for node in loaded.nodes] == [node.name for node in original.nodes]
    assert [type(node) for node in loaded.nodes] == [type(node) for node in original.nodes]
    got = predict(loaded, inputs, outputs)
    for name in outputs:
        assert got[name].dtype == np.float64
        assert np.array_equal(got[name], expected[name]), name


def test_the_round_trips_cover_every_engine_node_type():
    # Metrics are evaluation nodes, not part of a model's predictions; they have tests of their own.
    engine_types = {
        name
        for name, cls in ms.core.NODE_TYPES.items()
        if cls.__module__.startswith(("matrixslow.core", "matrixslow.ops"))
        and cls.__module__ != "matrixslow.ops.metrics"
    }
    covered = set()
    for builder in BUILDERS.values():
        with ms.core.Graph() as graph:
            builder(np.random.default_rng(0))
        covered |= {type(node).__name__ for node in graph.nodes}
    assert engine_types <= covered, f"no round trip builds {sorted(engine_types - covered)}"


def test_keyword_arguments_come_back(tmp_path):
    saved_model(tmp_path, "cnn")
    loaded, _, _ = load_fresh(tmp_path)
    (reshape,) = [node for node in loaded.nodes if isinstance(node, Reshape)]
    assert reshape.to_shape == (6, 6)
    pools = [node for node in loaded.nodes if isinstance(node, ms.ops.MaxPooling)]
    assert [(pool.size, pool.stride) for pool in pools] == [((3, 2), (2, 3))] * 2
    saved_model(tmp_path / "mlp", "mlp")
    loaded, _, _ = load_fresh(tmp_path / "mlp")
    assert sorted(node.nslope for node in loaded.nodes if isinstance(node, ReLU)) == [0.25]


def test_the_rnn_welding_is_welded_to_the_last_step_again(tmp_path):
    original, *_ = saved_model(tmp_path, "rnn")
    loaded, _, _ = load_fresh(tmp_path)
    expected_parent = original.get("last_state").parents[0].name
    assert [parent.name for parent in loaded.get("last_state").parents] == [expected_parent]


def test_variables_come_back_with_their_values_dims_and_trainability(tmp_path):
    original, *_ = saved_model(tmp_path, "cnn")
    loaded, _, _ = load_fresh(tmp_path)
    for node in original.nodes:
        if isinstance(node, Variable):
            twin = loaded.get(node.name)
            assert (twin.dim, twin.trainable) == (node.dim, node.trainable)
            if node.value.ndim == 2:  # weights and the conv layer's ones; inputs hold a batch
                assert np.array_equal(twin.value, node.value)
            else:
                assert twin.value is None


def test_a_float32_model_stays_float32(tmp_path):
    original, inputs, outputs, expected = saved_model(tmp_path, "mlp", dtype=np.float32)
    assert read_model(tmp_path)["dtype"] == "float32"
    loaded, _, _ = load_fresh(tmp_path)
    assert loaded.dtype is np.float32
    got = predict(loaded, inputs, outputs)
    for name in outputs:
        assert got[name].dtype == np.float32
        assert np.array_equal(got[name], expected[name])


def test_meta_and_service_signature_come_back(tmp_path):
    service = {"inputs": {"name": "x", "shape": (4, 1)}, "outputs": {"name": "predict", "shape": (3, 1)}}
    saved_model(tmp_path, meta={"epochs": np.int64(3), "note": "first"}, service_signature=service)
    _, meta, returned_service = load_fresh(tmp_path)
    assert meta["epochs"] == 3 and meta["note"] == "first"
    assert meta["matrixslow_version"] == ms.__version__
    saved_at = datetime.datetime.fromisoformat(meta["save_time"])
    assert abs(datetime.datetime.now(datetime.timezone.utc) - saved_at) < datetime.timedelta(minutes=5)
    assert returned_service == {
        "inputs": {"name": "x", "shape": [4, 1]},
        "outputs": {"name": "predict", "shape": [3, 1]},
    }


def test_the_files_hold_the_documented_structure(tmp_path):
    with ms.core.Graph() as original:
        inputs, outputs = build_cnn(np.random.default_rng(1))
        Tanh(original.get("predict"), name="scratch", need_save=False)
    predict(original, inputs, outputs)
    Saver(tmp_path / "new" / "dir").save(original)
    directory = tmp_path / "new" / "dir"
    model = read_model(directory)
    assert model["format_version"] == ms.core.FORMAT_VERSION and model["dtype"] == "float64"
    entries = {entry["name"]: entry for entry in model["graph"]}
    assert "scratch" not in entries and len(entries) == original.node_count() - 1
    reshape = next(entry for entry in entries.values() if entry["node_type"] == "Reshape")
    assert reshape["kargs"] == {"shape": [6, 6]} and reshape["parents"] == ["x"]
    pool = next(entry for entry in entries.values() if entry["node_type"] == "MaxPooling")
    assert pool["kargs"] == {"size": [3, 2], "stride": [2, 3]}
    assert entries["x"]["dim"] == [36, 1] and entries["x"]["trainable"] is False
    assert model["weights_sha256"] == hashlib.sha256((directory / "weights.npz").read_bytes()).hexdigest()
    with np.load(directory / "weights.npz", allow_pickle=False) as weights:
        stored = {name: weights[name] for name in weights.files}
    matrices = {node.name: node.value for node in original.nodes if isinstance(node, Variable) and node.value.ndim == 2}
    assert "x" not in stored and stored.keys() == matrices.keys()
    assert any(np.array_equal(value, np.ones((6, 6))) for value in stored.values())  # the conv layer's constant
    for name, value in matrices.items():
        assert np.array_equal(stored[name], value)


def test_loading_into_a_graph_that_has_the_nodes_only_sets_their_values(tmp_path):
    _, inputs, outputs, expected = saved_model(tmp_path, "cnn")
    np.random.seed(123)  # different initial weights in the same structure
    with ms.core.Graph() as target:
        build_cnn(np.random.default_rng(1))
    nodes_before = list(target.nodes)
    assert not np.array_equal(predict(target, inputs, outputs)["predict"], expected["predict"])
    Saver(tmp_path).load(target)
    assert target.nodes == nodes_before
    assert np.array_equal(predict(target, inputs, outputs)["predict"], expected["predict"])


def test_the_default_graph_is_saved_and_loaded_when_none_is_given(tmp_path):
    with ms.core.Graph() as original:
        inputs, outputs = build_mlp(np.random.default_rng(1))
        expected = predict(original, inputs, outputs)
        Saver(tmp_path).save(meta={"run": 1})
    with ms.core.Graph() as loaded:
        meta, _ = Saver(tmp_path).load()
    assert meta["run"] == 1
    assert np.array_equal(predict(loaded, inputs, outputs)["predict"], expected["predict"])


def test_other_file_names_are_honoured(tmp_path):
    _, inputs, outputs, expected = saved_model(tmp_path, model_file_name="m.json", weights_file_name="w.npz")
    assert sorted(os.listdir(tmp_path)) == ["m.json", "w.npz"]
    loaded, _, _ = load_fresh(tmp_path, model_file_name="m.json", weights_file_name="w.npz")
    assert np.array_equal(predict(loaded, inputs, outputs)["predict"], expected["predict"])


def test_a_graph_thousands_of_nodes_deep_listed_children_first_loads(tmp_path):
    with ms.core.Graph() as original:
        x = _input("x", 3)
        bias = Variable((3, 1), init=True)
        h = x
        for _ in range(1500):
            h = Tanh(Add(h, bias))
    value = np.random.default_rng(0).normal(size=(BATCH, 3, 1))
    expected = predict(original, {"x": value}, [h.name])[h.name]
    Saver(tmp_path).save(original)
    model = read_model(tmp_path)
    model["graph"].reverse()  # every node before its parents: the loader must order them itself
    write_model(tmp_path, model)
    loaded, _, _ = load_fresh(tmp_path)
    assert np.array_equal(predict(loaded, {"x": value}, [h.name])[h.name], expected)


# -- custom node types ------------------------------------------------------------------


class SaverTestDoubler(ms.ops.Operator):
    """A user's own operator: twice its parent."""

    def compute(self):
        self.value = 2.0 * self.parents[0].value

    def vjp(self, parent_index, grad):
        return 2.0 * grad


def test_an_unregistered_node_type_is_refused_and_loads_once_registered(tmp_path):
    with ms.core.Graph() as original:
        x = _input("x", 4)
        SaverTestDoubler(ms.layer.fc(x, 4, 2, None), name="doubled")
    inputs = {"x": np.random.default_rng(0).normal(size=(BATCH, 4, 1))}
    expected = predict(original, inputs, ["doubled"])["doubled"]
    Saver(tmp_path).save(original)

    refused = ms.core.Graph()
    with pytest.raises(ModelFileError) as error:
        Saver(tmp_path).load(refused)
    message = str(error.value)
    for part in ("model.json", "'doubled'", "'SaverTestDoubler'", "register_node_type"):
        assert part in message
    assert refused.node_count() == 0

    try:
        ms.core.register_node_type(SaverTestDoubler)
        loaded, _, _ = load_fresh(tmp_path)
    finally:
        ms.core.NODE_TYPES.pop("SaverTestDoubler", None)
    assert type(loaded.get("doubled")) is SaverTestDoubler
    assert np.array_equal(predict(loaded, inputs, ["doubled"])["doubled"], expected)


# -- bad files -------------------------------------------------------------------------


def expect_model_file_error(directory, *parts):
    """Loading fails with a ModelFileError naming each of ``parts``, and leaves the target graph empty."""
    target = ms.core.Graph()
    with pytest.raises(ModelFileError) as error:
        Saver(directory).load(target)
    for part in parts:
        assert part in str(error.value)
    assert target.node_count() == 0
    return error.value


def test_a_missing_model_file(tmp_path):
    expect_model_file_error(tmp_path, str(tmp_path / "model.json"), "no such")


def test_a_missing_weights_file(tmp_path):
    saved_model(tmp_path)
    (tmp_path / "weights.npz").unlink()
    expect_model_file_error(tmp_path, str(tmp_path / "weights.npz"), "no such")


@pytest.mark.parametrize("damage", ["truncated", "garbage", "not an object"])
def test_a_corrupt_model_file(tmp_path, damage):
    saved_model(tmp_path)
    path = tmp_path / "model.json"
    text = path.read_text()
    path.write_text(
        {"truncated": text[: len(text) // 2], "garbage": "\x00{nonsense", "not an object": "[1, 2]"}[damage]
    )
    error = expect_model_file_error(tmp_path, str(path))
    if damage != "not an object":
        assert isinstance(error.__cause__, json.JSONDecodeError)


def test_a_model_file_with_a_malformed_node(tmp_path):
    saved_model(tmp_path)
    model = read_model(tmp_path)
    model["graph"][0]["dim"] = [4, "one"]
    write_model(tmp_path, model)
    expect_model_file_error(tmp_path, "model.json", f"node '{model['graph'][0]['name']}'", "dim")


@pytest.mark.parametrize("damage", ["truncated", "garbage"])
def test_a_corrupt_weights_file(tmp_path, damage):
    saved_model(tmp_path)
    data = (tmp_path / "weights.npz").read_bytes()
    rewrite_weights(tmp_path, data[: len(data) // 2] if damage == "truncated" else b"PK\x03\x04" + bytes(200))
    error = expect_model_file_error(tmp_path, str(tmp_path / "weights.npz"))
    assert error.__cause__ is not None


def test_a_weights_file_with_pickled_objects_is_refused(tmp_path):
    original, *_ = saved_model(tmp_path)
    name = first_trainable(original).name
    rewrite_weights(tmp_path, {name: np.array([{"rm": "-rf"}, None], dtype=object)})
    expect_model_file_error(tmp_path, str(tmp_path / "weights.npz"), name, "pickle")


def test_an_unsupported_format_version(tmp_path):
    saved_model(tmp_path)
    model = read_model(tmp_path)
    model["format_version"] = 99
    write_model(tmp_path, model)
    expect_model_file_error(tmp_path, "model.json", "format_version 99", f"format_version {ms.core.FORMAT_VERSION}")


def test_an_unknown_node_type(tmp_path):
    saved_model(tmp_path)
    model = read_model(tmp_path)
    entry = next(entry for entry in model["graph"] if entry["node_type"] == "MatMul")
    entry["node_type"] = "Teleport"
    write_model(tmp_path, model)
    expect_model_file_error(tmp_path, "model.json", f"'{entry['name']}'", "'Teleport'", "register_node_type")


def test_a_missing_weight(tmp_path):
    original, *_ = saved_model(tmp_path)
    with np.load(tmp_path / "weights.npz") as weights:
        arrays = {name: weights[name] for name in weights.files}
    name = first_trainable(original).name
    del arrays[name]
    rewrite_weights(tmp_path, arrays)
    expect_model_file_error(tmp_path, str(tmp_path / "weights.npz"), f"'{name}'", "no weight")


def test_a_weight_of_the_wrong_shape(tmp_path):
    original, *_ = saved_model(tmp_path)
    with np.load(tmp_path / "weights.npz") as weights:
        arrays = {name: weights[name] for name in weights.files}
    node = first_trainable(original)
    arrays[node.name] = np.zeros((node.dim[0] + 1, node.dim[1]))
    rewrite_weights(tmp_path, arrays)
    expected_shape = f"shape {(node.dim[0] + 1, node.dim[1])}"
    expect_model_file_error(tmp_path, "weights.npz", f"'{node.name}'", f"expected dim {node.dim}", expected_shape)


def test_files_from_two_different_saves_are_detected(tmp_path):
    saved_model(tmp_path / "a")
    np.random.seed(7)
    saved_model(tmp_path / "b")
    (tmp_path / "a" / "weights.npz").write_bytes((tmp_path / "b" / "weights.npz").read_bytes())
    expect_model_file_error(tmp_path / "a", str(tmp_path / "a" / "weights.npz"), "different saves")


def test_a_graph_whose_variable_has_another_dim_is_refused(tmp_path):
    saved_model(tmp_path, "mlp")
    with ms.core.Graph() as target:
        x, _ = _input("x", 4), _input("label", 3)
        ReLU(ms.layer.fc(x, 4, 9, None), nslope=0.25)  # 9 hidden units where the saved model has 8
    nodes_before = list(target.nodes)
    weights_before = target.get("Variable:2").value.copy()
    with pytest.raises(ModelFileError, match=r"Variable 'Variable:2' was saved with dim \(8, 4\).*\(9, 4\)"):
        Saver(tmp_path).load(target)
    assert target.nodes == nodes_before  # nothing was created
    assert np.array_equal(target.get("Variable:2").value, weights_before)  # nor set


def test_meta_that_json_cannot_hold_is_refused_before_anything_is_written(tmp_path):
    with ms.core.Graph() as original:
        build_mlp(np.random.default_rng(0))
    with pytest.raises(ModelFileError, match=r"meta\['callback'\] is a function"):
        Saver(tmp_path / "out").save(original, meta={"callback": lambda: None})
    assert not (tmp_path / "out").exists()


# -- atomic saving -------------------------------------------------------------------------


def fail_weights(monkeypatch):
    def broken(*args, **kargs):
        raise OSError("disk full while writing the weights")

    monkeypatch.setattr(np.lib.format, "write_array", broken)


def fail_json(monkeypatch):
    def broken(*args, **kargs):
        raise OSError("disk full while writing the model")

    monkeypatch.setattr(json, "dumps", broken)


def fail_fsync(monkeypatch):
    def broken(descriptor):
        raise OSError("I/O error")

    monkeypatch.setattr(os, "fsync", broken)


def fail_replace(target):
    def patch(monkeypatch):
        real_replace = os.replace

        def replace(source, destination):
            if str(destination).endswith(target):
                raise OSError(f"cannot replace {target}")
            real_replace(source, destination)

        monkeypatch.setattr(os, "replace", replace)

    return patch


CRASHES = {
    "writing the weights": fail_weights,
    "encoding the model": fail_json,
    "syncing": fail_fsync,
    "replacing the weights": fail_replace("weights.npz"),
    # The weights have been replaced by then: they must be put back.
    "replacing the model file": fail_replace("model.json"),
}


@pytest.mark.parametrize("crash", sorted(CRASHES))
def test_a_crash_mid_save_leaves_the_previous_model_intact(tmp_path, monkeypatch, crash):
    original, inputs, outputs, expected = saved_model(tmp_path)
    before = {name: (tmp_path / name).read_bytes() for name in ("model.json", "weights.npz")}
    weight = first_trainable(original)
    weight.set_value(weight.value + 1.0)  # the model the failed save was writing

    with monkeypatch.context() as patched:
        CRASHES[crash](patched)
        with pytest.raises(OSError):
            Saver(tmp_path).save(original, meta={"attempt": 2})

    assert sorted(os.listdir(tmp_path)) == ["model.json", "weights.npz"]  # no temporary files left
    assert {name: (tmp_path / name).read_bytes() for name in before} == before
    loaded, meta, _ = load_fresh(tmp_path)
    assert "attempt" not in meta
    assert np.array_equal(predict(loaded, inputs, outputs)["predict"], expected["predict"])


def test_a_crash_during_the_first_save_leaves_nothing_behind(tmp_path, monkeypatch):
    with ms.core.Graph() as original:
        build_mlp(np.random.default_rng(0))
    fail_replace("model.json")(monkeypatch)
    with pytest.raises(OSError):
        Saver(tmp_path).save(original)
    assert os.listdir(tmp_path) == []


def test_saving_again_replaces_both_files(tmp_path):
    original, inputs, outputs, _ = saved_model(tmp_path)
    weight = first_trainable(original)
    weight.set_value(weight.value * -1.0)
    expected = predict(original, inputs, outputs)
    Saver(tmp_path).save(original)
    assert sorted(os.listdir(tmp_path)) == ["model.json", "weights.npz"]
    loaded, _, _ = load_fresh(tmp_path)
    assert np.array_equal(predict(loaded, inputs, outputs)["predict"], expected["predict"])


def test_node_names_that_clash_with_savez_arguments_are_saved(tmp_path):
    with ms.core.Graph() as original:
        x = _input("x", 2)
        weights = Variable((2, 2), init=True, name="file")
        allow = Variable((2, 1), init=True, name="allow_pickle")
        out = Add(MatMul(weights, x), allow, name="out")
    value = np.random.default_rng(0).normal(size=(BATCH, 2, 1))
    expected = predict(original, {"x": value}, ["out"])["out"]
    Saver(tmp_path).save(original)
    loaded, _, _ = load_fresh(tmp_path)
    assert np.array_equal(predict(loaded, {"x": value}, [out.name])["out"], expected)


def test_the_saver_module_exports_its_error():
    assert saver_module.ModelFileError is ModelFileError
    assert issubclass(ModelFileError, ValueError)
