"""The ONNX rows as tests: every recipe's trained model runs in onnxruntime as it runs in the engine.

By default seed 0 and the quick table's epochs; with ``MATRIXSLOW_REFERENCE_FULL=1`` (``tox -e
reference``) the full table's three seeds and all epochs.
"""

import os

import numpy as np
import pytest

import matrixslow as ms
from reference_checks import onnx_rows, recipes
from reference_checks.table import QUICK_SEEDS, SEEDS

FULL = os.environ.get("MATRIXSLOW_REFERENCE_FULL") == "1"


@pytest.mark.parametrize("name", list(recipes.ALL_RECIPES))
def test_onnxruntime_predicts_what_the_trained_model_predicts(name):
    rows = onnx_rows.run_rows([name], quick=not FULL, seeds=SEEDS if FULL else QUICK_SEEDS)
    assert [row.dtype for row in rows] == ["float64", "float32"] * (3 if FULL else 1)
    for row in rows:
        assert row.samples == len(recipes.ALL_RECIPES[name].load(0).test_x)
        assert row.passed, onnx_rows.to_markdown([row])


def test_every_builder_has_an_onnx_row():
    assert {name.split("/")[0] for name in recipes.ALL_RECIPES} == set(ms.model.BUILDERS)


def test_a_difference_over_the_tolerance_fails_the_row():
    with ms.core.Graph():
        model = ms.model.logistic_regression(3)
    inputs = {"x": np.random.default_rng(0).normal(size=(6, 3, 1))}
    engine = onnx_rows.engine_predictions(model, inputs)
    assert onnx_rows.compare("m/d", model, inputs, engine).passed
    nudged = engine.copy()
    nudged[2] += 3e-9  # over 1e-9 (1 + |p|) for any probability p
    row = onnx_rows.compare("m/d", model, inputs, nudged)
    assert not row.passed and row.max_difference == pytest.approx(3e-9, rel=1e-3)
    assert "| m/d | float64 | 6 |" in onnx_rows.to_markdown([row]) and "**FAIL**" in onnx_rows.to_markdown([row])
    assert '"passed": false' in onnx_rows.to_json([row])


def test_the_float32_model_holds_the_trained_weights():
    recipe = recipes.ALL_RECIPES["dnn/digits"]
    run = recipes.train(recipe, 0, epochs=1)
    single = onnx_rows.in_float32(recipe, 0, run.model)
    np.random.seed(0)
    with ms.core.Graph(dtype=np.float32) as untrained:
        recipe.build(recipe.load(0))
    weights = ms.core.get_trainable_variables_from_graph(graph=single.predict.graph)
    assert len(weights) == 6  # two hidden layers and the output, each W and b
    for node in weights:
        assert node.value.dtype == np.float32, node.name
        np.testing.assert_array_equal(node.value, run.model.predict.graph.get(node.name).value.astype(np.float32))
    # The copy is what makes them trained: the same build's first weights differ.
    assert not all(np.array_equal(node.value, untrained.get(node.name).value) for node in weights)


@pytest.mark.parametrize(("difference", "status"), [(0.0, 0), (1.0, 1)])
def test_the_command_prints_the_onnx_rows_and_fails_with_a_row(monkeypatch, capsys, difference, status):
    import reference_checks.__main__ as entry

    def run_rows(names, quick=False, seeds=(0,), progress=None):
        for name in names:
            progress(name)
        return [onnx_rows.OnnxRow(name, "float64", 3, difference, difference / 1e-9) for name in names]

    monkeypatch.setattr(onnx_rows, "run_rows", run_rows)
    assert entry.main(["--onnx", "--quick", "--rows", "dnn/digits", "cnn/digits"]) == status
    out = capsys.readouterr().out
    assert out.startswith("ONNX export: onnxruntime against the engine") and "| cnn/digits | float64 | 3 |" in out
    assert f"{0 if status else 2} of 2 rows pass." in out
