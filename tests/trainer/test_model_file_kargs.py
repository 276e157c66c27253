"""A node's kargs in a model file are only the settings its type takes; rebuilding fails whole or not at all."""

import numpy as np
import pytest

import matrixslow as ms
from matrixslow.core import NODE_TYPES, Graph, Variable
from matrixslow.ops import Operator, ReLU
from matrixslow.trainer import ModelFileError, Saver, original_format
from matrixslow.trainer.node_kargs import accepted_kargs

from .model_files import read_model, save_good_model, write_model
from .test_original_format import classifier, operator, write


def load_error(directory, graph=None):
    graph = Graph() if graph is None else graph
    count = graph.node_count()
    with pytest.raises(ModelFileError) as caught:
        Saver(directory).load(graph)
    assert graph.node_count() == count
    return str(caught.value)


def edit_entry(directory, name, **fields):
    model = read_model(directory)
    next(entry for entry in model["graph"] if entry["name"] == name).update(fields)
    write_model(directory, model)


def test_a_key_the_node_type_does_not_take_is_refused_naming_node_and_key(tmp_path):
    save_good_model(tmp_path)
    edit_entry(tmp_path, "predict", kargs={"nslope": 0.2, "__class__": "os.system"})
    message = load_error(tmp_path)
    for part in (str(tmp_path / "model.json"), "node 'predict'", "'__class__'", "nslope"):
        assert part in message


@pytest.mark.parametrize("key", ["name", "graph", "dim", "trainable", "init"])
def test_keys_the_loader_sets_itself_are_refused_in_kargs(tmp_path, key):
    save_good_model(tmp_path)
    edit_entry(tmp_path, "x", kargs={key: 1})
    assert f"'{key}'" in load_error(tmp_path)


def test_need_save_must_be_a_bool(tmp_path):
    save_good_model(tmp_path)
    edit_entry(tmp_path, "predict", kargs={"nslope": 0.2, "need_save": "yes"})
    assert "need_save" in load_error(tmp_path)


def test_kargs_are_checked_for_nodes_the_graph_already_has(tmp_path):
    original = save_good_model(tmp_path)
    edit_entry(tmp_path, "predict", kargs={"nslope": 0.2, "spare": 1})
    target = Graph()
    with target:
        x = Variable((4, 1), init=False, trainable=False, name="x")
        ReLU(ms.layer.fc(x, 4, 3, None), nslope=0.2, name="predict")
    assert [node.name for node in target.nodes] == [node.name for node in original.nodes]
    assert "'spare'" in load_error(tmp_path, target)


def test_the_accepted_kargs_are_those_the_originals_nodes_read():
    # original_format keeps a hand list of what the original's nodes read; ours are read from
    # the signatures, and must agree but for the slope our ReLU takes.
    for node_type, read in original_format._READ_KARGS.items():
        expected = set(read) | ({"nslope"} if node_type == "ReLU" else set())
        assert accepted_kargs(NODE_TYPES[node_type]) == expected, node_type


class KargsTestScaled(Operator):
    """A user's node type: its setting is a keyword of its __init__, and it refuses a bad one."""

    def __init__(self, *parents, factor=1.0, **kargs):
        super().__init__(*parents, factor=factor, **kargs)
        if factor == "explode":
            # After Node.__init__ added the node to the graph, and neither a TypeError nor
            # a ValueError: the loader must still name the node and take it out again.
            raise KeyError("factor")
        self.factor = factor

    def compute(self):
        self.value = self.factor * self.parents[0].value


def test_a_users_type_takes_its_init_keywords_and_nothing_else(tmp_path, monkeypatch):
    monkeypatch.setitem(NODE_TYPES, "KargsTestScaled", KargsTestScaled)
    original, weights = classifier()
    original["graph"].append(operator("KargsTestScaled", "scaled", ["predict"], kargs={"factor": 2.0}))
    write(tmp_path, original, weights)
    graph = Graph()
    Saver(tmp_path).load(to_graph=graph)
    assert graph.get("scaled").factor == 2.0

    original["graph"][-1]["kargs"] = {"factor": 2.0, "offset": 1.0}
    write(tmp_path, original, weights)
    message = load_error(tmp_path)
    assert "node 'scaled'" in message and "'offset'" in message and "factor" in message


def test_a_node_that_fails_to_build_is_named_and_the_graph_is_left_as_it_was(tmp_path, monkeypatch):
    monkeypatch.setitem(NODE_TYPES, "KargsTestScaled", KargsTestScaled)
    original, weights = classifier()
    weights = {name: value.astype(np.float32) for name, value in weights.items()}  # the graph takes float32
    # Created last, after every other node of the file.
    original["graph"].append(operator("KargsTestScaled", "scaled", ["predict"], kargs={"factor": "explode"}))
    write(tmp_path, original, weights)
    graph = Graph()
    message = load_error(tmp_path, graph)
    assert str(tmp_path / "model.json") in message and "node 'scaled'" in message and "KeyError" in message
    assert graph.explicit_dtype is None  # the saved dtype it took for the build is given back


def test_a_bad_setting_value_is_named_and_nothing_is_left_behind(tmp_path):
    save_good_model(tmp_path)
    model = read_model(tmp_path)
    model["graph"].append(
        {"node_type": "Reshape", "name": "flat", "parents": ["predict"], "kargs": {"shape": ["a", "b"]}}
    )
    write_model(tmp_path, model)
    graph = Graph()
    with graph:
        x = Variable((4, 1), init=False, trainable=False, name="x")  # the nodes built from the file hang off it
    message = load_error(tmp_path, graph)
    assert "node 'flat'" in message and "shape" in message
    assert graph.nodes == [x] and x.children == [] and graph.get("predict") is None
