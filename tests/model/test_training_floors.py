"""Every model builder learns its data set: trained with SimpleTrainer, it scores above a floor on the test split.

The recipes (data set, optimizer, learning rate, epochs, batch size) are in
``reference_checks/recipes.py``, shared with the scikit-learn reference table. Each
one is trained (on the loaders' default split) from the three seeds the floors were
measured with; the scores are the metric nodes' values on the held-out test
split after the last epoch (R² for regression, from ``trainer.predict``).
"""

import functools

import numpy as np
import pytest
from sklearn import metrics as sk

import matrixslow as ms
from reference_checks import recipes

SEEDS = (0, 1, 2)

# Test-split floors. Measured 2026-11-24 over seeds 0, 1, 2 (np.random.seed(seed) for the weights,
# SimpleTrainer(seed=seed) for the shuffling; the loaders' default splits), as "mean ± std, worst".
# Each floor sits a margin below the worst run, near what a plain baseline gets on the same split
# (sklearn LogisticRegression: titanic AUC 0.852, movielens AUC 0.790; least squares: diabetes R² 0.359).
FLOORS = {
    ("logistic_regression/breast_cancer", "Accuracy"): 0.93,  # 0.963 ± 0.003, worst 0.958
    ("logistic_regression/breast_cancer", "ROC_AUC"): 0.98,  # 0.9945 ± 0.0005, worst 0.994
    ("softmax_regression/iris", "Accuracy"): 0.92,  # 0.974 ± 0.000, worst 0.974
    ("softmax_regression/digits", "Accuracy"): 0.93,  # 0.965 ± 0.005, worst 0.958
    ("perceptron/breast_cancer", "Accuracy"): 0.92,  # 0.956 ± 0.009, worst 0.944
    ("linear_regression/diabetes", "R2"): 0.32,  # 0.355 ± 0.002, worst 0.353 (the optimum is 0.359)
    ("factorization_machine/titanic", "ROC_AUC"): 0.82,  # 0.857 ± 0.001, worst 0.856
    ("factorization_machine/movielens", "ROC_AUC"): 0.77,  # 0.800 ± 0.003, worst 0.797
    ("dnn/digits", "Accuracy"): 0.95,  # 0.973 ± 0.004, worst 0.969
    ("cnn/digits", "Accuracy"): 0.95,  # 0.984 ± 0.004, worst 0.978 (16 kernels since the reference table)
    ("rnn/sine_square", "Accuracy"): 0.90,  # 0.959 ± 0.002, worst 0.956 (chance 0.5)
    ("wide_and_deep/titanic", "ROC_AUC"): 0.82,  # 0.856 ± 0.004, worst 0.850
    ("deepfm/titanic", "ROC_AUC"): 0.82,  # 0.852 ± 0.004, worst 0.846
}

RUNS = [pytest.param(name, seed, id=f"{name}-seed{seed}") for name in recipes.RECIPES for seed in SEEDS]


@functools.cache
def trained(name, seed):
    """Each recipe is trained once per seed, whichever test asks first."""
    return recipes.train(recipes.RECIPES[name], seed)


def test_every_builder_and_score_has_a_floor():
    builders = {name.split("/")[0] for name in recipes.RECIPES}
    assert builders == set(ms.model.BUILDERS)
    assert set(FLOORS) == {(name, score) for name, recipe in recipes.RECIPES.items() for score in recipe.scores}


@pytest.mark.parametrize(("name", "seed"), RUNS)
def test_test_scores_are_above_the_floor(name, seed):
    run = trained(name, seed)
    for score, value in run.scores.items():
        floor = FLOORS[name, score]
        assert value >= floor, f"{name} (seed {seed}): test {score} {value:.4f} is below the floor {floor}"


@pytest.mark.parametrize(("name", "seed"), RUNS)
def test_training_loss_decreases(name, seed):
    losses = [record["loss"] for record in trained(name, seed).history]
    assert len(losses) == recipes.RECIPES[name].epochs
    assert np.all(np.isfinite(losses))
    # The epochs of a noisy optimizer need not each improve, but the end must be well below the start,
    # and no later epoch may be worse than the first.
    assert losses[-1] < 0.9 * losses[0], f"{name} (seed {seed}): losses {np.round(losses, 4)}"
    assert max(losses[1:]) < losses[0], f"{name} (seed {seed}): losses {np.round(losses, 4)}"


@pytest.mark.parametrize(("name", "seed"), RUNS)
def test_metric_nodes_agree_with_sklearn_on_the_predictions(name, seed):
    """The floors are checked on the metric nodes; sklearn on trainer.predict must give the same numbers."""
    run = trained(name, seed)
    scores, labels = run.predictions.reshape(len(run.predictions), -1), np.asarray(run.test_labels)
    if labels.ndim == 2:  # one-hot classes
        truth, predicted = labels.argmax(axis=1), scores.argmax(axis=1)
    else:  # one score per sample; labels in {0, 1} or {-1, 1}
        truth, predicted = (labels == 1).astype(int), (scores[:, 0] >= 0.5).astype(int)
    references = {
        "Accuracy": lambda: sk.accuracy_score(truth, predicted),
        "ROC_AUC": lambda: sk.roc_auc_score(truth, scores[:, 0]),
        "R2": lambda: sk.r2_score(labels, scores[:, 0]),
    }
    for score, value in run.scores.items():
        assert value == pytest.approx(references[score](), abs=1e-9), f"{name} (seed {seed}): {score}"


def test_linear_regression_comes_close_to_least_squares():
    """Diabetes on this split is hard for any linear model: the trained one must get near the optimum."""
    data = recipes.RECIPES["linear_regression/diabetes"].load()
    design = np.column_stack([data.train_x, np.ones(len(data.train_x))])
    coefficients, *_ = np.linalg.lstsq(design, data.train_y, rcond=None)
    optimum = recipes.r_squared(data.test_y, np.column_stack([data.test_x, np.ones(len(data.test_x))]) @ coefficients)
    assert optimum == pytest.approx(0.359, abs=0.005)  # the value the floor's comment relies on
    for seed in SEEDS:
        assert trained("linear_regression/diabetes", seed).scores["R2"] == pytest.approx(optimum, abs=0.02)
