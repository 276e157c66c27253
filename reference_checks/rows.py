"""The rows of the reference table: a matrixslow recipe against its scikit-learn baselines.

Every row trains ``recipes.ALL_RECIPES[row.recipe]`` and fits each of
``row.baselines`` on the same train/test split (the same seed) and preprocessing.
A baseline sees the recipe's data set flattened to one row per sample, unless
the row names a ``baseline_data`` loader: the quadratic-features row gives
scikit-learn the raw 2-D points, so that PolynomialFeatures(2) builds the
features the recipe got from ``recipes.quadratic_features``.
"""

import functools
from dataclasses import dataclass

from . import baselines, recipes


@dataclass(frozen=True)
class Row:
    name: str  # the row's id: the recipe name
    model: str  # as shown in the table
    recipe: str  # a key of recipes.ALL_RECIPES
    baselines: tuple  # baselines.Baseline
    baseline_data: object = None  # (seed) -> Dataset for the baselines; None: the recipe's own data set

    @property
    def dataset(self):
        return self.recipe.split("/")[1]

    def data_for_baselines(self, seed):
        return (self.baseline_data or recipes.ALL_RECIPES[self.recipe].load)(seed)


def _row(model, recipe, *row_baselines, baseline_data=None):
    return Row(recipe, model, recipe, tuple(row_baselines), baseline_data)


ROWS = {
    row.name: row
    for row in (
        _row("linear regression (MeanSquaredError)", "linear_regression/diabetes", baselines.LINEAR_REGRESSION),
        _row("logistic regression", "logistic_regression/breast_cancer", baselines.LOGISTIC_REGRESSION),
        _row("ADALINE / perceptron", "perceptron/breast_cancer", baselines.PERCEPTRON),
        _row("softmax regression", "softmax_regression/iris", baselines.LOGISTIC_REGRESSION),
        _row("softmax regression", "softmax_regression/digits", baselines.LOGISTIC_REGRESSION),
        _row(
            "logistic regression on quadratic features",
            "logistic_regression/quadratic_rings",
            baselines.QUADRATIC_LOGISTIC_REGRESSION,
            baseline_data=functools.partial(recipes.load, "quadratic_rings"),
        ),
        _row("factorisation machine", "factorization_machine/titanic", baselines.PAIRWISE_LOGISTIC_REGRESSION),
        _row("factorisation machine", "factorization_machine/movielens", baselines.PAIRWISE_LOGISTIC_REGRESSION),
        _row("DNN", "dnn/digits", baselines.mlp_classifier(recipes.DNN_HIDDEN)),
        _row("CNN", "cnn/digits", baselines.mlp_classifier(recipes.CNN_HIDDEN), baselines.SVC),
        _row("RNN", "rnn/sine_square", baselines.mlp_classifier((recipes.RNN_STATE,))),
        _row(
            "Wide & Deep",
            "wide_and_deep/titanic",
            baselines.LOGISTIC_REGRESSION,
            baselines.HIST_GRADIENT_BOOSTING,
        ),
        _row("DeepFM", "deepfm/titanic", baselines.LOGISTIC_REGRESSION, baselines.HIST_GRADIENT_BOOSTING),
    )
}
