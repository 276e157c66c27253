"""What every builder promises: output shapes, registered node types, named nodes, and that it trains."""

import numpy as np
import pytest

import matrixslow as ms
from tests.model.cases import SMALL, set_data

NAMES = sorted(SMALL)


def test_every_builder_has_a_small_instance():
    assert {"logistic_regression", "cnn", "rnn", "deepfm"} <= set(ms.model.BUILDERS)
    assert set(SMALL) == set(ms.model.BUILDERS)


@pytest.mark.parametrize("name", NAMES)
def test_output_shapes_per_sample_and_batched(graph, name):
    instance = SMALL[name]
    model = instance.build()
    x, labels = instance.data(np.random.default_rng(0), 5)
    set_data(graph, model, x, labels)
    assert model.logits.forward().shape == (5, *instance.logits_dim)
    assert model.predict.forward().shape == (5, *instance.logits_dim)
    assert model.loss.forward().shape == (5, 1, 1)

    for name_, batch in model.feed(x).items():  # now the first sample alone
        graph.get(name_).set_value(batch[0])
    model.label.set_value(labels[0])
    assert model.logits.forward().shape == instance.logits_dim
    assert model.predict.forward().shape == instance.logits_dim
    assert model.loss.forward().shape == (1, 1)
    assert model.label.dim == instance.logits_dim


@pytest.mark.parametrize("name", NAMES)
def test_the_model_names_itself_and_its_nodes(graph, name):
    model = SMALL[name].build()
    assert model.name == name
    assert model.loss.name == "loss"
    assert model.label.name == "label"
    if name != "linear_regression":  # regression predicts with the output node itself
        assert model.predict.name == "predict"
    else:
        assert model.predict is model.logits
    assert all(not node.trainable and node.graph is graph for node in model.inputs + [model.label])
    assert len({node.name for node in model.inputs}) == len(model.inputs)


@pytest.mark.parametrize("name", NAMES)
def test_every_node_is_a_registered_type_the_saver_can_rebuild(graph, name):
    SMALL[name].build()
    assert graph.nodes
    types = {type(node).__name__ for node in graph.nodes}
    unregistered = sorted(types - set(ms.core.NODE_TYPES))
    assert not unregistered, f"{name} builds nodes of unregistered types {unregistered}"
    for node in graph.nodes:
        assert ms.core.NODE_TYPES[type(node).__name__] is type(node), node.describe()


@pytest.mark.parametrize("name", NAMES)
def test_a_few_adam_steps_lower_the_loss(graph, name):
    instance = SMALL[name]
    model = instance.build()
    set_data(graph, model, *instance.data(np.random.default_rng(1), 32))
    optimizer = ms.optimizer.Adam(graph, model.loss, 0.02)
    losses = []
    for _ in range(30):
        optimizer.one_step()
        losses.append(float(model.loss.value.mean()))
        optimizer.update()
    assert losses[-1] < 0.8 * losses[0], f"{name}: loss went from {losses[0]:.4f} to {losses[-1]:.4f}"


@pytest.mark.parametrize("name", NAMES)
def test_builders_build_into_the_current_default_graph_only(name):
    with ms.core.Graph() as first:
        SMALL[name].build()
    with ms.core.Graph() as second:
        SMALL[name].build()  # the same names again: no clash, each graph has its own
    assert first.node_count() == second.node_count() > 0


def test_np_random_seed_makes_a_build_repeatable():
    values = []
    for _ in range(2):
        np.random.seed(3)
        with ms.core.Graph() as graph:
            SMALL["dnn"].build()
        values.append([node.value.copy() for node in ms.core.get_trainable_variables_from_graph(graph=graph)])
    for first, second in zip(*values, strict=True):
        np.testing.assert_array_equal(first, second)
