"""Packed updates: all variables moved as one flat array, the same numbers as one by one, whatever happens between."""

import numpy as np
import pytest

from tests.optimizer.test_in_place import KINDS, batches, train_step, trainables, twin_models


def run_both(kind, reference, settings, steps, between=None):
    """``steps`` steps of the engine's (packed) optimizer and of the one-by-one reference, ``between`` after each."""
    engine_model, reference_model = twin_models()
    engine = kind(engine_model[0], engine_model[-1], **settings)
    expected = reference(reference_model[0], reference_model[-1], **settings)
    for step, parts in enumerate(list(batches(seed=11))[:steps]):
        train_step(engine_model, engine, parts)
        train_step(reference_model, expected, parts)
        if between is not None:
            between(step, (engine_model, engine), (reference_model, expected))
    for mine, theirs in zip(trainables(engine_model[0]), trainables(reference_model[0]), strict=True):
        np.testing.assert_array_equal(mine.value, theirs.value, err_msg=mine.describe())
    return engine_model, engine


@pytest.mark.parametrize(("kind", "reference", "settings"), KINDS)
def test_values_and_state_are_views_of_one_flat_array(kind, reference, settings):
    model, optimizer = run_both(kind, reference, settings, steps=3)
    packed = optimizer._packed
    assert packed is not None, "the engine's own rules update all variables at once"
    for variable in trainables(model[0]):
        assert np.shares_memory(variable.value, packed.value), variable.describe()
        for slot in optimizer.SLOTS:
            assert np.shares_memory(getattr(optimizer, slot)[variable], getattr(optimizer, slot)[packed])


@pytest.mark.parametrize(("kind", "reference", "settings"), KINDS)
def test_a_value_set_between_updates_is_the_one_moved(kind, reference, settings):
    def reset_first_weight(step, *models):
        if step in (2, 5):
            for (graph, *_), _ in models:
                weight = trainables(graph)[0]
                weight.set_value(np.full(weight.dim, 0.25))

    run_both(kind, reference, settings, steps=8, between=reset_first_weight)


@pytest.mark.parametrize(("kind", "reference", "settings"), KINDS)
def test_state_loaded_between_updates_is_the_one_used(kind, reference, settings):
    def reload_state(step, *models):
        if step == 3:
            (_, engine), (_, expected) = models
            state = {key: value * 0.5 for key, value in expected.state_arrays().items() if not key.startswith("#")}
            state.update({key: value for key, value in expected.state_arrays().items() if key.startswith("#")})
            engine.load_state_arrays(state)
            expected.load_state_arrays(state)

    run_both(kind, reference, settings, steps=7, between=reload_state)


@pytest.mark.parametrize(("kind", "reference", "settings"), KINDS)
def test_an_update_of_some_variables_moves_only_those(kind, reference, settings):
    def push_one_gradient(step, *models):
        if step == 2:
            for (graph, *_), optimizer in models:
                first = trainables(graph)[0]
                optimizer.apply_gradients({first.name: np.full(first.dim, 0.1)})
                others = {node.name: node.value.copy() for node in trainables(graph)[1:]}
                optimizer.update()
                for node in trainables(graph)[1:]:
                    np.testing.assert_array_equal(node.value, others[node.name], err_msg=node.describe())

    run_both(kind, reference, settings, steps=6, between=push_one_gradient)


@pytest.mark.parametrize(("kind", "reference", "settings"), KINDS)
def test_gradients_are_summed_into_the_flat_gradient_and_a_one_by_one_update_keeps_none(kind, reference, settings):
    def forget_one_entry(step, *models):
        if step == 3:  # one variable's state dropped: the next update goes one by one (rules read it as zeros)
            for (graph, *_), optimizer in models:
                for slot in optimizer.SLOTS:
                    getattr(optimizer, slot).pop(trainables(graph)[0], None)

    (graph, x, label, *_), optimizer = run_both(kind, reference, settings, steps=8, between=forget_one_entry)
    views = optimizer._packed.gradient_views()
    for samples, labels in list(batches(seed=5))[0]:
        x.set_value(samples)
        label.set_value(labels)
        optimizer.one_step()
    assert set(optimizer.acc_gradient) == set(views)
    for node, gradient in optimizer.acc_gradient.items():
        assert gradient is views[node], f"{node.describe()}: summed outside the flat gradient"
