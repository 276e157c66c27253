"""The scikit-learn baselines of the reference table, each a factory ``(Dataset, seed) -> fitted score dict``.

A baseline sees the same ``Dataset`` (same split, same preprocessing) as the
matrixslow recipe of its row, flattened to one row per sample, and is scored on
the test split with the same metrics. ``seed`` is the baseline's own
``random_state`` where it has one, so that the three seeds of a row vary both sides.
"""

import warnings
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Baseline:
    name: str  # shown in the table, e.g. "LogisticRegression"
    make: object  # (Dataset, seed) -> an unfitted estimator or pipeline


def _flat(x):
    return np.asarray(x).reshape(len(x), -1)


def evaluate(baseline, data, seed, scores):
    """Fit ``baseline`` on the train part of ``data`` and return ``{score: value}`` on its test part.

    ``scores`` are the recipe's score names: "Accuracy", "ROC_AUC" (from
    ``predict_proba`` or ``decision_function``) and "R2".
    """
    from sklearn import metrics
    from sklearn.exceptions import ConvergenceWarning

    model = baseline.make(data, seed)
    with warnings.catch_warnings():
        # The MLPs stop at max_iter on purpose (the table records what they reach, not how long they would need).
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(_flat(data.train_x), data.train_y)
    test_x, truth = _flat(data.test_x), data.test_y
    results = {}
    for score in scores:
        if score == "Accuracy":
            results[score] = float(metrics.accuracy_score(truth, model.predict(test_x)))
        elif score == "ROC_AUC":
            results[score] = float(metrics.roc_auc_score(truth, _positive_scores(model, test_x)))
        elif score == "R2":
            results[score] = float(metrics.r2_score(truth, model.predict(test_x)))
        else:
            raise ValueError(f"baseline {baseline.name}: unknown score {score!r} (Accuracy, ROC_AUC or R2)")
    return results


def _positive_scores(model, x):
    if hasattr(model, "predict_proba"):
        return model.predict_proba(x)[:, 1]
    return model.decision_function(x)


# -- the estimators -------------------------------------------------------------------------------
def linear_regression(data, seed):
    from sklearn.linear_model import LinearRegression

    return LinearRegression()


def logistic_regression(data, seed):
    """Multinomial for more than two classes (scikit-learn's default for the lbfgs solver)."""
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(max_iter=5000, random_state=seed)


def perceptron(data, seed):
    from sklearn.linear_model import Perceptron

    return Perceptron(random_state=seed)


def quadratic_logistic_regression(data, seed):
    """PolynomialFeatures(2) on the raw columns, standardised, then logistic regression."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import PolynomialFeatures, StandardScaler

    return make_pipeline(PolynomialFeatures(2, include_bias=False), StandardScaler(), LogisticRegression(max_iter=5000))


def pairwise_logistic_regression(data, seed):
    """Logistic regression on the one-hot (and scaled numeric) columns plus every pairwise product of them.

    The products are what a factorisation machine's factorised weights model, here
    with one free weight each. The one-hot columns are mostly zeros: kept sparse, the
    ~25,000 products of movielens' 223 columns fit in memory, and liblinear fits them
    in a fraction of a second (lbfgs takes ~10 s for the same AUC).
    """
    from scipy import sparse
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, PolynomialFeatures

    return make_pipeline(
        FunctionTransformer(sparse.csr_matrix, accept_sparse=True),
        PolynomialFeatures(2, interaction_only=True, include_bias=False),
        LogisticRegression(solver="liblinear", max_iter=5000, random_state=seed),
    )


def mlp(hidden):
    """An MLPClassifier with the given hidden sizes (ReLU, Adam, scikit-learn defaults otherwise)."""

    def make(data, seed):
        from sklearn.neural_network import MLPClassifier

        return MLPClassifier(hidden_layer_sizes=tuple(hidden), max_iter=500, random_state=seed)

    return make


def svc(data, seed):
    """An RBF support vector classifier with scikit-learn's default C and gamma."""
    from sklearn.svm import SVC

    return SVC(random_state=seed)


def gradient_boosting(data, seed):
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier(random_state=seed)


LINEAR_REGRESSION = Baseline("LinearRegression", linear_regression)
LOGISTIC_REGRESSION = Baseline("LogisticRegression", logistic_regression)
PERCEPTRON = Baseline("Perceptron", perceptron)
QUADRATIC_LOGISTIC_REGRESSION = Baseline("LogisticRegression on PolynomialFeatures(2)", quadratic_logistic_regression)
PAIRWISE_LOGISTIC_REGRESSION = Baseline(
    "LogisticRegression on one-hot + pairwise interactions", pairwise_logistic_regression
)
SVC = Baseline("SVC", svc)
HIST_GRADIENT_BOOSTING = Baseline("HistGradientBoostingClassifier", gradient_boosting)


def mlp_classifier(hidden):
    return Baseline(f"MLPClassifier{tuple(hidden)}", mlp(hidden))
