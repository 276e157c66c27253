"""Every model of the zoo survives the saver: trained, saved, loaded into an empty graph, it predicts exactly the same.

Each round trip is parametrized over ``ms.model.BUILDERS``, so a new builder is
covered as soon as it is registered (it then needs a small instance in
``tests/model/cases.py``). The reference is always the original graph, trained
a couple of steps so that its weights are no longer the ones it was built with.
"""

import numpy as np
import pytest

import matrixslow as ms
from matrixslow.ops import Logistic, Tanh
from matrixslow.ops.metrics import Accuracy
from matrixslow.trainer import ModelFileError, Saver
from tests.model.cases import SMALL

NAMES = sorted(ms.model.BUILDERS)
TRAIN_STEPS = 2


def instance(name):
    assert name in SMALL, f"builder '{name}' has no small instance in tests/model/cases.py SMALL"
    return SMALL[name]


def structure(graph):
    return [(node.name, type(node)) for node in graph.nodes]


def trainable_values(graph):
    return {node.name: node.value.copy() for node in ms.core.get_trainable_variables_from_graph(graph=graph)}


def train(graph, loss, feed, labels, steps=TRAIN_STEPS):
    """A few Adam steps on one batch: ``feed`` maps input names to batches, ``labels`` go into "label"."""
    optimizer = ms.optimizer.Adam(graph, loss, 0.05)
    for _ in range(steps):
        set_inputs(graph, feed, labels)
        optimizer.one_step()
        optimizer.update()


def set_inputs(graph, feed, labels):
    for name, batch in feed.items():
        graph.get(name).set_value(batch)
    graph.get("label").set_value(labels)


def outputs(graph, feed, labels, names):
    """The values of the nodes ``names`` (copied) with ``feed`` and ``labels`` set."""
    set_inputs(graph, feed, labels)
    return {name: graph.get(name).forward().copy() for name in names}


class Trained:
    """A small instance of a builder, trained a few steps in a graph of its own, with a test batch to feed."""

    def __init__(self, name, dtype=None, build=None):
        rng = np.random.default_rng(11)
        self.instance = instance(name)
        with ms.core.Graph(dtype=dtype) as self.graph:
            self.model = (build or self.instance.build)()
        self.initial = trainable_values(self.graph)
        train_x, self.train_labels = self.instance.data(rng, 24)
        self.train_feed = self.model.feed(train_x)
        train(self.graph, self.model.loss, self.train_feed, self.train_labels)
        test_x, self.test_labels = self.instance.data(rng, 7)
        self.test_feed = self.model.feed(test_x)
        self.signature = {"inputs": [node.name for node in self.model.inputs], "outputs": [self.model.predict.name]}

    def save(self, directory):
        Saver(directory).save(self.graph, meta={"builder": self.model.name}, service_signature=self.signature)

    def expected(self):
        """The original's prediction and loss on the test batch."""
        return outputs(self.graph, self.test_feed, self.test_labels, [self.model.predict.name, "loss"])


def load_fresh(directory):
    graph = ms.core.Graph()
    meta, service = Saver(directory).load(graph)
    return graph, meta, service


def assert_same_outputs(got, expected, dtype):
    for name, value in expected.items():
        assert got[name].dtype == dtype == value.dtype, name
        assert np.array_equal(got[name], value), f"{name} differs after the round trip"


# -- round trips of every builder ----------------------------------------------------------------


def test_every_builder_is_covered():
    assert set(NAMES) == set(SMALL), "every builder in BUILDERS needs a small instance in tests/model/cases.py"
    assert len(NAMES) >= 10


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("name", NAMES)
def test_a_trained_model_loaded_into_an_empty_graph_predicts_exactly_as_the_saved_one(tmp_path, name, dtype):
    trained = Trained(name, dtype=dtype)
    for weight, value in trainable_values(trained.graph).items():
        assert not np.array_equal(value, trained.initial[weight]), f"training did not move '{weight}'"
    trained.save(tmp_path)

    loaded, meta, service = load_fresh(tmp_path)

    assert meta["builder"] == name
    assert service == trained.signature
    assert loaded.dtype is dtype
    assert structure(loaded) == structure(trained.graph)
    for weight, value in trainable_values(loaded).items():
        assert value.dtype == dtype
        assert np.array_equal(value, trained.graph.get(weight).value), weight
    # The loaded graph is driven through its service signature alone.
    feed = {input_name: trained.test_feed[input_name] for input_name in service["inputs"]}
    got = outputs(loaded, feed, trained.test_labels, [*service["outputs"], "loss"])
    assert_same_outputs(got, trained.expected(), dtype)


@pytest.mark.parametrize("name", NAMES)
def test_loading_again_into_the_graph_that_holds_the_model_only_sets_its_values(tmp_path, name):
    trained = Trained(name)
    trained.save(tmp_path)
    loaded, _, _ = load_fresh(tmp_path)
    nodes = list(loaded.nodes)
    saved = trainable_values(loaded)

    train(loaded, loaded.get("loss"), trained.train_feed, trained.train_labels, steps=1)
    moved = trainable_values(loaded)
    assert any(not np.array_equal(moved[weight], saved[weight]) for weight in saved)

    Saver(tmp_path).load(loaded)

    assert loaded.nodes == nodes, "a second load created or dropped nodes"
    assert all(a is b for a, b in zip(loaded.nodes, nodes, strict=True))
    for weight, value in trainable_values(loaded).items():
        assert np.array_equal(value, saved[weight]), f"'{weight}' was not set back to its saved value"
    names = [trained.model.predict.name, "loss"]
    assert_same_outputs(outputs(loaded, trained.test_feed, trained.test_labels, names), trained.expected(), np.float64)


def test_an_rnn_with_welding_keeps_the_length_it_was_saved_with(tmp_path):
    def build():
        model = ms.model.rnn(4, 2, 5, 2, welding=True)
        model.set_length(2)
        return model

    trained = Trained("rnn", build=build)
    model = trained.model
    trained.save(tmp_path)
    loaded, _, _ = load_fresh(tmp_path)

    welding = loaded.get(model.welding.name)
    assert [parent.name for parent in welding.parents] == [model.hiddens[1].name]
    expected = trained.expected()
    got = outputs(loaded, trained.test_feed, trained.test_labels, ["predict", "loss"])
    assert_same_outputs(got, expected, np.float64)

    # The length matters, and the loaded Welding still moves with it.
    model.set_length(4)
    full_length = trained.expected()
    assert not np.array_equal(full_length["predict"], expected["predict"])
    welding.weld(loaded.get(model.hiddens[3].name))
    got = outputs(loaded, trained.test_feed, trained.test_labels, ["predict", "loss"])
    assert_same_outputs(got, full_length, np.float64)


# -- nodes left out of the file ------------------------------------------------------------------


def test_metrics_on_a_model_are_left_out_and_the_model_still_loads(tmp_path):
    trained = Trained("logistic_regression")
    with trained.graph:
        accuracy = Accuracy(trained.model.predict, trained.model.label, name="accuracy")
    trained.save(tmp_path)
    loaded, _, _ = load_fresh(tmp_path)
    assert loaded.get(accuracy.name) is None
    assert loaded.node_count() == trained.graph.node_count() - 1
    got = outputs(loaded, trained.test_feed, trained.test_labels, ["predict", "loss"])
    assert_same_outputs(got, trained.expected(), np.float64)


def test_a_saved_node_whose_parent_is_left_out_is_refused_at_save_time(tmp_path):
    trained = Trained("logistic_regression")
    with trained.graph:
        scratch = Logistic(trained.model.logits, name="scratch", need_save=False)
        Tanh(scratch, name="after_scratch")
    with pytest.raises(ModelFileError) as error:
        trained.save(tmp_path / "out")
    message = str(error.value)
    for part in ("model.json", "'after_scratch'", "'scratch'", "need_save=False"):
        assert part in message
    assert not (tmp_path / "out").exists(), "a refused save must leave no files"


def test_a_model_input_left_out_is_refused_naming_its_child(tmp_path):
    trained = Trained("dnn")
    x = trained.model.inputs[0]
    x.need_save = False
    (child,) = [node for node in trained.graph.nodes if x in node.parents]
    with pytest.raises(ModelFileError, match=rf"node '{child.name}' is saved but its parent '{x.name}'"):
        trained.save(tmp_path)
    assert list(tmp_path.iterdir()) == []
