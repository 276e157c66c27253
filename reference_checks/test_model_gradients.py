"""Every model's loss has the right gradient for every trainable Variable, per sample and batched.

Also: no builder can exist without a case, and the embedding layer is checked too.
"""

import numpy as np
import pytest

import matrixslow as ms
from reference_checks.gradcheck import assert_gradients_match
from reference_checks.model_cases import BATCH, BATCHED, CASES, MODES, SAMPLE, kink_distance, make_embedding_case

# A finite-difference step of 1e-6 must not cross a kink: keep well clear of it.
KINK_MARGIN = 1e-3

CASE_MODES = [pytest.param(model_case, mode, id=f"{model_case.name}-{mode}") for model_case in CASES for mode in MODES]


@pytest.mark.parametrize(("model_case", "mode"), CASE_MODES)
def test_loss_gradients_match_finite_differences(model_case, mode):
    graph, model, trainables = model_case.make(mode)
    loss = model.loss.forward()
    assert loss.shape == ((BATCH, 1, 1) if mode == BATCHED else (1, 1)), f"{model_case} in mode {mode}"
    assert model.name == model_case.builder
    assert kink_distance(graph) > KINK_MARGIN, f"{model_case}: a ReLU or PerceptionLoss input sits at its kink"
    # The check must cover the whole model: every weight, and each with a gradient to compare.
    assert set(trainables) == set(ms.core.get_trainable_variables_from_graph(graph=graph))
    result = assert_gradients_match(model.loss, trainables)
    vacuous = [name for name, grad in result.analytic.items() if not np.any(grad)]
    assert not vacuous, f"{model_case} in mode {mode}: zero gradient for {vacuous}; the check would prove nothing"


def test_every_builder_has_a_case():
    builders = set(ms.model.BUILDERS)
    # Guard the guard: an empty registry would make this pass vacuously.
    assert {"logistic_regression", "cnn", "rnn", "deepfm"} <= builders
    missing = sorted(builders - {model_case.builder for model_case in CASES})
    assert not missing, f"builders without a gradient-check case in model_cases.py: {missing}"
    unknown = sorted({model_case.builder for model_case in CASES} - builders)
    assert not unknown, f"cases for builders that ms.model.BUILDERS does not list: {unknown}"


def test_the_registry_lists_every_builder_under_its_own_name():
    for name, builder in ms.model.BUILDERS.items():
        assert builder.__name__ == name
        assert getattr(ms.model, name) is builder


@pytest.mark.parametrize("mode", MODES)
def test_embedding_layer_gradients(mode):
    target, inputs = make_embedding_case(mode)
    assert target.forward().shape == ((BATCH, 3, 1) if mode == BATCHED else (3, 1))
    assert_gradients_match(target, inputs)


def test_the_cases_feed_what_their_mode_says():
    for mode, ndim in ((SAMPLE, 2), (BATCHED, 3)):
        _, model, _ = CASES[0].make(mode)
        assert all(node.value.ndim == ndim for node in model.inputs)
