"""The factorization machine's O(kn) pairwise term is the explicit sum over pairs of features."""

import numpy as np
import pytest

import matrixslow as ms
from tests.model.cases import log_loss, sigmoid


def explicit_pairwise(factors, x):
    """sum_{i<j} <v_i, v_j> x_i x_j for one sample, looping over every pair (v_i is column i of V)."""
    n = len(x)
    return sum(factors[:, i] @ factors[:, j] * x[i] * x[j] for i in range(n) for j in range(i + 1, n))


def _randomise(graph, rng):
    for name in ("FM/w", "FM/b", "FM/V"):
        node = graph.get(name)
        node.set_value(rng.standard_normal(node.dim))
    return graph.get("FM/w").value, graph.get("FM/b").value, graph.get("FM/V").value


def test_the_pairwise_term_and_the_logit_per_sample_and_batched(graph):
    rng = np.random.default_rng(0)
    model = ms.model.factorization_machine(6, 3)
    w, b, factors = _randomise(graph, rng)
    assert factors.shape == (3, 6)
    x, labels = rng.standard_normal((4, 6)), np.array([1.0, 0.0, 0.0, 1.0])
    pairwise = np.array([explicit_pairwise(factors, row) for row in x])
    logit = x @ w[0] + b[0, 0] + pairwise

    model.inputs[0].set_value(x[:, :, None])
    model.label.set_value(labels[:, None, None])
    np.testing.assert_allclose(model.parts["pairwise"].forward()[:, 0, 0], pairwise, rtol=1e-10)
    np.testing.assert_allclose(model.logits.forward()[:, 0, 0], logit, rtol=1e-10)
    np.testing.assert_allclose(model.predict.forward()[:, 0, 0], sigmoid(logit), rtol=1e-10)
    np.testing.assert_allclose(model.loss.forward()[:, 0, 0], log_loss(logit, labels), rtol=1e-10)

    model.inputs[0].set_value(x[2][:, None])
    np.testing.assert_allclose(model.parts["pairwise"].forward(), [[pairwise[2]]], rtol=1e-10)


def test_with_fields_the_features_are_the_fields_in_field_order(graph):
    rng = np.random.default_rng(1)
    model = ms.model.factorization_machine(4, 2, fields={"b": [3, 1], "a": [0, 2]})
    w, b, factors = _randomise(graph, rng)
    table = rng.standard_normal((3, 4))
    for name, batch in model.feed(table).items():
        graph.get(name).set_value(batch)
    features = table[:, [3, 1, 0, 2]]  # V's columns follow the concatenated fields
    expected = features @ w[0] + b[0, 0] + np.array([explicit_pairwise(factors, row) for row in features])
    np.testing.assert_allclose(model.logits.forward()[:, 0, 0], expected, rtol=1e-10)


def test_a_one_hot_pair_interacts_through_the_dot_product_of_its_factors(graph):
    model = ms.model.factorization_machine(4, 2)
    factors = graph.get("FM/V")
    factors.set_value(np.array([[1.0, 2.0, 3.0, 4.0], [0.5, -1.0, 0.0, 2.0]]))
    model.inputs[0].set_value(np.array([[1.0], [0.0], [0.0], [1.0]]))
    assert model.parts["pairwise"].forward()[0, 0] == pytest.approx(1.0 * 4.0 + 0.5 * 2.0)


def test_the_field_sizes_must_add_up_to_input_size(graph):
    message = "factorization_machine: the fields have 3 columns in all, but input_size is 4"
    with pytest.raises(ValueError, match=message):
        ms.model.factorization_machine(4, 2, fields={"a": 1, "b": 2})
    assert graph.node_count() == 0
