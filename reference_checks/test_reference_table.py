"""The reference table as tests: every matrixslow model scores at least its best scikit-learn baseline minus 0.02.

One test per row of ``reference_checks.rows.ROWS``. By default the quick variant
runs (seed 0, the recipes' ``quick_epochs``); with ``MATRIXSLOW_REFERENCE_FULL=1``
(``tox -e reference``) the full one: three seeds, all epochs, the rule on the means.
"""

import os

import numpy as np
import pytest
from sklearn import metrics as sk
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import PolynomialFeatures

import matrixslow as ms
from reference_checks import baselines, recipes
from reference_checks.rows import ROWS
from reference_checks.table import TOLERANCE, RowResult, Side, run_row, to_json, to_markdown

FULL = os.environ.get("MATRIXSLOW_REFERENCE_FULL") == "1"


@pytest.mark.parametrize("name", list(ROWS))
def test_matrixslow_is_within_tolerance_of_the_best_baseline(name):
    result = run_row(name, quick=not FULL)
    assert len(result.matrixslow.seconds) == (3 if FULL else 1)
    for metric in result.metrics:
        best = max(np.mean(side.scores[metric]) for side in result.baselines)
        ours = np.mean(result.matrixslow.scores[metric])
        assert ours >= best - TOLERANCE, result.failures()


def test_every_recipe_has_a_row_and_every_builder_is_compared():
    assert {row.recipe for row in ROWS.values()} == set(recipes.ALL_RECIPES)
    assert {name.split("/")[0] for name in recipes.ALL_RECIPES} == set(ms.model.BUILDERS)


def test_quadratic_features_match_polynomial_features():
    points = np.random.default_rng(0).normal(size=(7, 2))
    expected = PolynomialFeatures(2, include_bias=False).fit_transform(points)
    np.testing.assert_allclose(recipes.quadratic_features(points), expected)


def test_quadratic_rings_need_the_quadratic_features():
    """The synthetic set is the point of its row: a plain linear model must do clearly worse there."""
    data = recipes.load("quadratic_rings", 0)
    linear = LogisticRegression().fit(data.train_x, data.train_y).score(data.test_x, data.test_y)
    quadratic = baselines.evaluate(baselines.QUADRATIC_LOGISTIC_REGRESSION, data, 0, ("Accuracy",))["Accuracy"]
    assert linear < 0.8 < 0.9 < quadratic


def test_baseline_scores_agree_with_a_direct_fit():
    data = recipes.load("breast_cancer", 1)
    scores = baselines.evaluate(baselines.LOGISTIC_REGRESSION, data, 1, ("Accuracy", "ROC_AUC"))
    model = LogisticRegression(max_iter=5000).fit(data.train_x, data.train_y)
    assert scores["Accuracy"] == pytest.approx(model.score(data.test_x, data.test_y))
    assert scores["ROC_AUC"] == pytest.approx(sk.roc_auc_score(data.test_y, model.predict_proba(data.test_x)[:, 1]))


def test_the_pass_rule_and_rendering_on_a_made_up_row():
    ours, good, better = Side("matrixslow"), Side("A"), Side("B")
    for value, a, b in ((0.90, 0.80, 0.93), (0.92, 0.82, 0.95)):
        ours.add({"Accuracy": value}, 1.0)
        good.add({"Accuracy": a}, 0.5)
        better.add({"Accuracy": b}, 0.5)
    result = RowResult("m/d", "m", "d", ("Accuracy",), (0, 1), 5, ours, [good, better])
    # Best baseline B: 0.94 - 0.02 = 0.92 > 0.91, so the row fails; the std of 0.90 and 0.92 is 0.01.
    assert result.threshold("Accuracy") == pytest.approx(0.92)
    assert not result.passed and len(result.failures()) == 1
    assert "0.9100 ± 0.0100" in to_markdown([result]) and "**FAIL**" in to_markdown([result])
    assert '"passed": false' in to_json([result])
