"""Wide & Deep and DeepFM: field embeddings, the shared embeddings of DeepFM, and their logits in NumPy."""

import numpy as np

import matrixslow as ms
from tests.model.cases import FIELDS, field_table, leaky_relu, set_data, trainable


def _build(graph, builder, rng, n=4):
    model = builder(FIELDS, 3, [5])
    for node in ms.core.get_trainable_variables_from_graph(graph=graph):
        node.set_value(rng.standard_normal(node.dim))  # random biases too
    table, labels = field_table(rng, n)
    set_data(graph, model, table, labels)
    return model, table


def _embedding_matrices(model):
    # ms.layer.embedding builds MatMul(E, x_f): E is the first parent of each embedding node.
    return {name: node.parents[0] for name, node in model.embeddings.items()}


def _numpy_parts(graph, model, table):
    """The linear and deep terms and the embeddings, per sample, from the weights alone."""
    matrices = {name: node.value for name, node in _embedding_matrices(model).items()}
    columns = model.fields
    embedded = {name: table[:, columns[name]] @ matrices[name].T for name in columns}  # (n, k) each
    wide_w, wide_b = (node.value for node in trainable(graph, "Wide/"))
    linear = table[:, columns["day"] + columns["tags"]] @ wide_w[0] + wide_b[0, 0]
    w1, b1, w2, b2 = (node.value for node in trainable(graph, "Deep/"))
    deep_in = np.hstack([embedded["day"], embedded["tags"]])
    deep = (leaky_relu(deep_in @ w1.T + b1.T) @ w2.T + b2.T)[:, 0]
    return linear, deep, embedded


def test_embeddings_are_a_lookup_for_one_hot_and_a_sum_for_multi_hot(graph):
    rng = np.random.default_rng(0)
    model, table = _build(graph, ms.model.deepfm, rng)
    matrices = _embedding_matrices(model)
    assert matrices["day"].dim == (3, 3) and matrices["tags"].dim == (3, 4)
    day = model.embeddings["day"].forward()[:, :, 0]
    tags = model.embeddings["tags"].forward()[:, :, 0]
    for sample in range(len(table)):
        active_day = np.flatnonzero(table[sample, :3])
        np.testing.assert_allclose(day[sample], matrices["day"].value[:, active_day[0]], rtol=1e-12)
        active_tags = np.flatnonzero(table[sample, 3:])
        np.testing.assert_allclose(tags[sample], matrices["tags"].value[:, active_tags].sum(axis=1), rtol=1e-12)


def test_deepfm_logit_is_linear_plus_field_pairs_plus_deep(graph):
    rng = np.random.default_rng(1)
    model, table = _build(graph, ms.model.deepfm, rng)
    linear, deep, embedded = _numpy_parts(graph, model, table)
    pairs = np.sum(embedded["day"] * embedded["tags"], axis=1)  # two fields: one pair <e_day, e_tags>
    np.testing.assert_allclose(model.parts["linear"].forward()[:, 0, 0], linear, rtol=1e-10)
    np.testing.assert_allclose(model.parts["pairwise"].forward()[:, 0, 0], pairs, rtol=1e-10)
    np.testing.assert_allclose(model.parts["deep"].forward()[:, 0, 0], deep, rtol=1e-10)
    np.testing.assert_allclose(model.logits.forward()[:, 0, 0], linear + pairs + deep, rtol=1e-10)


def test_deepfm_pairwise_term_over_three_fields_is_the_sum_over_field_pairs(graph):
    rng = np.random.default_rng(2)
    model = ms.model.deepfm({"a": 2, "b": 2, "c": 3}, 4, [])
    table = rng.standard_normal((3, 7))
    for name, batch in model.feed(table).items():
        graph.get(name).set_value(batch)
    e = {name: node.forward()[:, :, 0] for name, node in model.embeddings.items()}
    expected = np.sum(e["a"] * e["b"] + e["a"] * e["c"] + e["b"] * e["c"], axis=1)
    np.testing.assert_allclose(model.parts["pairwise"].forward()[:, 0, 0], expected, rtol=1e-10)


def test_deepfm_fm_and_deep_parts_share_the_same_embedding_variables(graph):
    rng = np.random.default_rng(3)
    model, _ = _build(graph, ms.model.deepfm, rng)
    matrices = list(_embedding_matrices(model).values())
    # One matrix per field, and no other trainable matrix under "Embedding/".
    assert set(trainable(graph, "Embedding/")) == set(matrices) and len(matrices) == len(FIELDS)
    for part in ("pairwise", "deep"):
        ancestors = set(ms.core.topological_order(model.parts[part]))
        assert set(model.embeddings.values()) <= ancestors, part
    # Gradient reaches each E_f from both parts, and the logit's is their sum (linear does not use E).
    from_fm = ms.core.backward(model.parts["pairwise"], wrt=matrices)
    from_deep = ms.core.backward(model.parts["deep"], wrt=matrices)
    total = ms.core.backward(model.logits, wrt=matrices)
    for matrix in matrices:
        assert np.any(from_fm[matrix]) and np.any(from_deep[matrix]), matrix.name
        np.testing.assert_allclose(total[matrix], from_fm[matrix] + from_deep[matrix], rtol=1e-12)
    assert not np.any(ms.core.backward(model.parts["linear"], wrt=matrices)[matrices[0]])


def test_wide_and_deep_logit_is_wide_plus_deep(graph):
    rng = np.random.default_rng(4)
    model, table = _build(graph, ms.model.wide_and_deep, rng)
    linear, deep, _ = _numpy_parts(graph, model, table)
    np.testing.assert_allclose(model.parts["wide"].forward()[:, 0, 0], linear, rtol=1e-10)
    np.testing.assert_allclose(model.parts["deep"].forward()[:, 0, 0], deep, rtol=1e-10)
    np.testing.assert_allclose(model.logits.forward()[:, 0, 0], linear + deep, rtol=1e-10)
    np.testing.assert_allclose(model.predict.forward()[:, 0, 0], 1.0 / (1.0 + np.exp(-(linear + deep))), rtol=1e-10)
