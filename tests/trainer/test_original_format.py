"""Models saved by the original MatrixSlow's Saver: their translation into ours, and the errors naming what is wrong.

The original's model file has no ``format_version``; its graph entries carry
``children`` and a ``dim`` for every node that held a matrix, and nothing says which
Variables are trainable. Files are written by hand here (plain ``json`` and
``np.savez``, as the original writes them) into ``tmp_path``.
"""

import json
from pathlib import Path

import numpy as np
import pytest

import matrixslow as ms
from matrixslow.core import NODE_TYPES, Graph
from matrixslow.ops import Operator
from matrixslow.trainer import ModelFileError, Saver
from matrixslow.trainer.original_format import is_original, translate

MODEL, WEIGHTS = Path("dir/model.json"), Path("dir/weights.npz")


def variable(name, dim, children=()):
    return {"node_type": "Variable", "name": name, "parents": [], "children": list(children), "kargs": {}, "dim": dim}


def operator(node_type, name, parents, dim=None, kargs=None, children=()):
    entry = {"node_type": node_type, "name": name, "parents": parents, "children": list(children)}
    entry["kargs"] = {} if kargs is None else kargs
    if dim is not None:
        entry["dim"] = dim
    return entry


def classifier():
    """An fc classifier as the original saves it after training: every Variable holds a value."""
    graph = [
        variable("x", [3, 1], children=["MatMul:4"]),
        variable("label", [2, 1], children=["loss", "Accuracy:8"]),
        variable("w", [2, 3], children=["MatMul:4"]),
        variable("b", [2, 1], children=["Add:5"]),
        operator("MatMul", "MatMul:4", ["w", "x"], dim=[2, 1], children=["Add:5"]),
        operator("Add", "Add:5", ["MatMul:4", "b"], dim=[2, 1], children=["predict", "loss", "Accuracy:8"]),
        operator("SoftMax", "predict", ["Add:5"], dim=[2, 1]),
        operator("CrossEntropyWithSoftMax", "loss", ["Add:5", "label"], dim=[1, 1]),
    ]
    rng = np.random.default_rng(0)
    weights = {
        "x": rng.normal(size=(3, 1)),
        "label": np.array([[0.0], [1.0]]),
        "w": rng.normal(size=(2, 3)),
        "b": rng.normal(size=(2, 1)),
    }
    original = {
        "meta": {"save_time": "2020-04-22 15:32:17.049232", "weights_file_name": "weights.npz"},
        "service": {"inputs": {"name": "x"}, "outputs": {"name": "predict"}},
        "graph": graph,
    }
    return original, weights


def translated(original, weights):
    model, loaded = translate(original, weights, "sha", MODEL, WEIGHTS)
    return {entry["name"]: entry for entry in model["graph"]}, model, loaded


def write(tmp_path, original, weights):
    (tmp_path / "model.json").write_text(json.dumps(original, indent=4))
    with open(tmp_path / "weights.npz", "wb") as file:
        np.savez(file, **weights)
    return tmp_path / "model.json"


def load_error(tmp_path, original, weights):
    model_path = write(tmp_path, original, weights)
    with pytest.raises(ModelFileError) as caught:
        Saver(tmp_path).load(to_graph=Graph())
    return str(caught.value), model_path


# -- translation --------------------------------------------------------------


def test_a_file_without_format_version_is_the_originals():
    assert is_original(classifier()[0])
    assert not is_original({"format_version": 1, "graph": []})


def test_variables_keep_their_dim_and_are_all_saved():
    entries, model, weights = translated(*classifier())
    assert entries["w"]["dim"] == [2, 3]
    assert all(entries[name]["has_saved_value"] for name in ("x", "label", "w", "b"))
    assert set(weights) == {"x", "label", "w", "b"}


def test_meta_service_and_dtype_carry_over_and_the_format_becomes_ours():
    original, weights = classifier()
    _, model, _ = translated(original, weights)
    assert model["format_version"] == ms.core.FORMAT_VERSION
    assert model["meta"] == original["meta"] and model["service"] == original["service"]
    assert model["dtype"] == "float64"


def test_weights_all_float32_make_a_float32_model():
    original, weights = classifier()
    _, model, _ = translated(original, {name: value.astype(np.float32) for name, value in weights.items()})
    assert model["dtype"] == "float32"
    weights["w"] = weights["w"].astype(np.float32)
    assert translated(original, weights)[1]["dtype"] == "float64"


def test_dims_of_computed_nodes_and_children_are_dropped():
    entries, _, _ = translated(*classifier())
    assert "dim" not in entries["Add:5"] and "dim" not in entries["loss"]
    assert not any("children" in entry for entry in entries.values())


def test_metrics_are_left_out():
    original, weights = classifier()
    original["graph"].append(operator("Accuracy", "Accuracy:8", ["Add:5", "label"], kargs={"need_save": True}))
    entries, _, _ = translated(original, weights)
    assert "Accuracy:8" not in entries


def test_the_service_input_and_the_label_are_not_trainable_the_weights_are():
    entries, _, _ = translated(*classifier())
    assert {name: entries[name]["trainable"] for name in ("x", "label", "w", "b")} == {
        "x": False,
        "label": False,
        "w": True,
        "b": True,
    }


def test_a_signature_may_list_its_inputs():
    original, weights = classifier()
    original["service"] = {"inputs": [{"name": "x"}], "outputs": [{"name": "predict"}]}
    assert translated(original, weights)[0]["x"]["trainable"] is False


def test_an_input_missing_from_the_signature_loads_as_trainable():
    # Nothing in the original's file tells an input from a weight; the rule says so.
    original, weights = classifier()
    original["service"] = {}
    assert translated(original, weights)[0]["x"]["trainable"] is True


def test_a_variable_feeding_no_saved_node_is_not_trainable():
    original, weights = classifier()
    original["graph"] = [entry for entry in original["graph"] if entry["name"] != "loss"]  # label fed only metrics
    assert translated(original, weights)[0]["label"]["trainable"] is False


def scaled(matrix_value):
    """A bias scaling a matrix, as the book's convolution layer builds one (``ones`` is its constant)."""
    original, weights = classifier()
    original["graph"] += [
        variable("bias", [1, 1]),
        variable("ones", [2, 2]),
        operator("ScalarMultiply", "ScalarMultiply:9", ["bias", "ones"], dim=[2, 2]),
    ]
    weights.update(bias=np.array([[0.5]]), ones=matrix_value)
    return translated(original, weights)[0]


def test_a_matrix_of_ones_that_a_scalar_scales_is_a_constant():
    entries = scaled(np.ones((2, 2)))
    assert entries["ones"]["trainable"] is False and entries["bias"]["trainable"] is True


def test_a_scaled_matrix_that_is_not_all_ones_is_trainable():
    assert scaled(np.full((2, 2), 2.0))["ones"]["trainable"] is True


def test_only_the_kargs_the_original_read_are_kept():
    original, weights = classifier()
    original["graph"] += [
        variable("image", [4, 4]),
        operator("MaxPooling", "pool", ["image"], dim=[2, 2], kargs={"size": [3, 3], "stride": [2, 2]}),
        operator("Reshape", "flat", ["pool"], dim=[4, 1], kargs={"shape": [4, 1], "need_save": True}),
        # The original's ReLU ignored a slope it was given: it always sloped 0.1.
        operator("ReLU", "relu", ["flat"], dim=[4, 1], kargs={"nslope": 0.2}),
    ]
    weights["image"] = np.zeros((4, 4))
    entries, _, _ = translated(original, weights)
    assert entries["pool"]["kargs"] == {"size": [3, 3], "stride": [2, 2]}
    assert entries["flat"]["kargs"] == {"shape": [4, 1], "need_save": True}
    assert entries["relu"]["kargs"] == {}


class OriginalFormatDouble(Operator):
    """A user's own node type: its kargs are its own business."""

    def __init__(self, *parents, factor, **kargs):
        super().__init__(*parents, factor=factor, **kargs)
        self.factor = factor

    def compute(self):
        self.value = self.factor * self.parents[0].value


def test_a_registered_node_type_of_the_users_keeps_all_its_kargs(monkeypatch, tmp_path):
    monkeypatch.setitem(NODE_TYPES, "OriginalFormatDouble", OriginalFormatDouble)
    original, weights = classifier()
    original["graph"].append(operator("OriginalFormatDouble", "double", ["predict"], kargs={"factor": 2.0}))
    assert translated(original, weights)[0]["double"]["kargs"] == {"factor": 2.0}
    write(tmp_path, original, weights)
    graph = Graph()
    Saver(tmp_path).load(to_graph=graph)
    assert graph.get("double").factor == 2.0


# -- loading ------------------------------------------------------------------


def test_the_loaded_model_predicts_what_numpy_computes_from_the_weights(tmp_path):
    original, weights = classifier()
    write(tmp_path, original, weights)
    graph = Graph()
    meta, service = Saver(tmp_path).load(to_graph=graph, model_file_name="model.json", weights_file_name="weights.npz")
    assert meta == original["meta"] and service == original["service"]
    x = np.array([[0.3], [-1.2], [2.0]])
    graph.get("x").set_value(x)
    predict = graph.get("predict")
    predict.forward()
    logits = weights["w"] @ x + weights["b"]
    np.testing.assert_allclose(predict.value, np.exp(logits) / np.exp(logits).sum(), rtol=1e-12)
    assert not graph.get("x").trainable and graph.get("w").trainable


# -- errors -------------------------------------------------------------------


def test_a_file_without_graph_is_named(tmp_path):
    message, model_path = load_error(tmp_path, {"meta": {}, "service": {}}, {})
    assert str(model_path) in message and "'graph'" in message


def test_a_node_type_we_do_not_know_is_named(tmp_path):
    original, weights = classifier()
    original["graph"][6]["node_type"] = "Swish"
    message, model_path = load_error(tmp_path, original, weights)
    assert str(model_path) in message and "'predict'" in message and "'Swish'" in message


def test_a_parent_that_is_not_in_the_file_is_named(tmp_path):
    original, weights = classifier()
    original["graph"][6]["parents"] = ["Hidden/Add:5"]
    message, model_path = load_error(tmp_path, original, weights)
    assert str(model_path) in message and "'predict'" in message and "'Hidden/Add:5'" in message


def test_a_metric_as_a_parent_is_named(tmp_path):
    original, weights = classifier()
    original["graph"].append(operator("Accuracy", "Accuracy:8", ["Add:5", "label"], kargs={"need_save": True}))
    original["graph"].append(operator("Step", "step", ["Accuracy:8"]))
    message, model_path = load_error(tmp_path, original, weights)
    assert str(model_path) in message and "'step'" in message and "'Accuracy:8'" in message


def test_a_variable_without_dim_is_named(tmp_path):
    original, weights = classifier()
    del original["graph"][2]["dim"]
    message, model_path = load_error(tmp_path, original, weights)
    assert str(model_path) in message and "Variable 'w' has no dim" in message


def test_a_variable_saved_holding_nothing_is_named_for_its_unknown_shape(tmp_path):
    # The original writes no dim for a Variable without a value, and np.savez pickles its None.
    original, weights = classifier()
    del original["graph"][0]["dim"]
    weights["x"] = None
    message, model_path = load_error(tmp_path, original, weights)
    assert str(model_path) in message and "Variable 'x' has no dim" in message and "held no value" in message


class Unpickled:
    """Records that it was unpickled: loading a model must never run pickled code."""

    count = 0

    def __reduce__(self):
        return (_note_unpickled, ())


def _note_unpickled():
    Unpickled.count += 1
    return None


def test_pickled_weights_are_never_unpickled(tmp_path):
    original, weights = classifier()
    weights["w"] = np.array(Unpickled(), dtype=object)
    message, _ = load_error(tmp_path, original, weights)
    assert Unpickled.count == 0
    assert str(tmp_path / "weights.npz") in message and "'w'" in message and "pickled" in message


def test_weights_missing_for_a_variable_are_named(tmp_path):
    original, weights = classifier()
    del weights["b"]
    message, model_path = load_error(tmp_path, original, weights)
    assert str(tmp_path / "weights.npz") in message and str(model_path) in message and "'b'" in message


def test_a_weight_of_the_wrong_shape_is_named(tmp_path):
    original, weights = classifier()
    weights["w"] = np.zeros((3, 2))
    message, _ = load_error(tmp_path, original, weights)
    assert str(tmp_path / "weights.npz") in message and "'w'" in message and "(2, 3)" in message


def test_a_weight_for_no_variable_of_the_file_is_named(tmp_path):
    original, weights = classifier()
    weights["Hidden/w"] = np.zeros((2, 3))
    message, _ = load_error(tmp_path, original, weights)
    assert str(tmp_path / "weights.npz") in message and "'Hidden/w'" in message


def test_a_bad_file_leaves_the_graph_as_it_was(tmp_path):
    original, weights = classifier()
    del weights["b"]
    write(tmp_path, original, weights)
    graph = Graph()
    with pytest.raises(ModelFileError):
        Saver(tmp_path).load(to_graph=graph)
    assert graph.node_count() == 0
