"""The scikit-learn estimators: they learn, they obey scikit-learn's contract, and they fail clearly."""

import pickle
import subprocess
import sys

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LinearRegression
from sklearn.model_selection import GridSearchCV, cross_val_score, train_test_split
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

import matrixslow as ms
from matrixslow.estimators import MatrixSlowClassifier, MatrixSlowRegressor


def split(load):
    X, y = load(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=0, stratify=None)
    scaler = StandardScaler().fit(X_train)
    return scaler.transform(X_train), scaler.transform(X_test), y_train, y_test


def trainable_values(estimator):
    """The trained weights, read from the estimator's own graph by shape."""
    return {node.dim: node.value for node in estimator.graph_.nodes if getattr(node, "trainable", False)}


# -- learning -------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "family"),
    [({}, "softmax_regression"), ({"model": "dnn", "hidden_sizes": (8,)}, "dnn")],
)
def test_classifier_learns_iris(params, family):
    X_train, X_test, y_train, y_test = split(load_iris)
    clf = MatrixSlowClassifier(random_state=0, **params).fit(X_train, y_train)
    assert clf.model_.name == family
    predictions = clf.predict(X_test)
    accuracy = np.mean(predictions == y_test)
    assert accuracy > 0.8  # chance is 1/3
    assert clf.score(X_test, y_test) == pytest.approx(accuracy)
    proba = clf.predict_proba(X_test)
    assert proba.shape == (len(X_test), 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-9)
    np.testing.assert_array_equal(clf.classes_[proba.argmax(axis=1)], predictions)
    assert clf.n_features_in_ == 4
    assert clf.loss_curve_[-1] < clf.loss_curve_[0]


def test_binary_classifier_is_logistic_regression_with_two_probability_columns():
    X_train, X_test, y_train, y_test = split(load_breast_cancer)
    clf = MatrixSlowClassifier(random_state=0).fit(X_train, y_train)
    assert clf.model_.name == "logistic_regression"
    assert np.mean(clf.predict(X_test) == y_test) > 0.9  # chance (the majority class) is about 0.63
    weights = trainable_values(clf)
    w, b = weights[(1, X_train.shape[1])], weights[(1, 1)]
    positive = 1.0 / (1.0 + np.exp(-(X_test @ w.T + b)[:, 0]))
    np.testing.assert_allclose(clf.predict_proba(X_test), np.column_stack([1.0 - positive, positive]), rtol=1e-9)


def test_softmax_regression_and_dnn_take_two_classes():
    X_train, X_test, y_train, y_test = split(load_breast_cancer)
    for model in ("softmax_regression", "dnn"):
        clf = MatrixSlowClassifier(model=model, hidden_sizes=(4,), epochs=10, random_state=0).fit(X_train, y_train)
        assert clf.predict_proba(X_test).shape == (len(X_test), 2)
        assert clf.score(X_test, y_test) > 0.9


def test_linear_regressor_on_diabetes_is_affine_and_close_to_least_squares():
    X_train, X_test, y_train, y_test = split(load_diabetes)
    reg = MatrixSlowRegressor(random_state=0).fit(X_train, y_train)
    r2 = reg.score(X_test, y_test)
    assert r2 > 0.3
    assert r2 > LinearRegression().fit(X_train, y_train).score(X_test, y_test) - 0.05
    weights = trainable_values(reg)
    w, b = weights[(1, X_train.shape[1])], weights[(1, 1)]
    expected = (X_test @ w.T + b)[:, 0] * y_train.std() + y_train.mean()
    np.testing.assert_allclose(reg.predict(X_test), expected, rtol=1e-9)


def test_dnn_regressor_on_diabetes():
    X_train, X_test, y_train, y_test = split(load_diabetes)
    reg = MatrixSlowRegressor(model="dnn", hidden_sizes=(16,), epochs=30, random_state=0).fit(X_train, y_train)
    assert reg.model_.name == "mlp_regression"
    assert reg.score(X_test, y_test) > 0.3


def test_regressor_predictions_follow_the_target_scale():
    X_train, X_test, y_train, _ = split(load_diabetes)
    params = {"epochs": 5, "random_state": 0}
    plain = MatrixSlowRegressor(**params).fit(X_train, y_train).predict(X_test)
    scaled = MatrixSlowRegressor(**params).fit(X_train, 1000.0 * y_train - 7.0).predict(X_test)
    np.testing.assert_allclose(scaled, 1000.0 * plain - 7.0, rtol=1e-9)


# -- scikit-learn machinery ------------------------------------------------


def test_cross_val_score_of_a_pipeline():
    X, y = load_iris(return_X_y=True)
    pipeline = Pipeline([("scale", StandardScaler()), ("clf", MatrixSlowClassifier(epochs=30, random_state=0))])
    scores = cross_val_score(pipeline, X, y, cv=3)
    assert scores.shape == (3,)
    assert scores.min() > 0.7


def test_grid_search_prefers_more_training():
    X, y = load_breast_cancer(return_X_y=True)
    search = GridSearchCV(
        make_pipeline(StandardScaler(), MatrixSlowClassifier(optimizer="GradientDescent", random_state=0)),
        {"matrixslowclassifier__learning_rate": [0.001, 0.1], "matrixslowclassifier__epochs": [1, 10]},
        cv=3,
    )
    search.fit(X, y)
    assert len(search.cv_results_["params"]) == 4
    assert search.best_params_ == {"matrixslowclassifier__learning_rate": 0.1, "matrixslowclassifier__epochs": 10}
    assert search.best_estimator_[-1].epochs == 10
    assert search.score(X, y) > 0.9


def test_clone_is_unfitted_with_equal_params():
    X_train, X_test, y_train, _ = split(load_iris)
    clf = MatrixSlowClassifier(model="dnn", hidden_sizes=(5, 3), learning_rate=0.02, epochs=7, random_state=3)
    clf.fit(X_train, y_train)
    copy = clone(clf)
    assert copy.get_params() == clf.get_params()
    with pytest.raises(NotFittedError):
        copy.predict(X_test)
    np.testing.assert_array_equal(copy.fit(X_train, y_train).predict_proba(X_test), clf.predict_proba(X_test))
    assert copy.graph_ is not clf.graph_


def test_set_params_changes_the_next_fit():
    X_train, _, y_train, _ = split(load_iris)
    clf = MatrixSlowClassifier(epochs=2, random_state=0)
    assert clf.set_params(model="dnn", hidden_sizes=(6,)) is clf
    clf.fit(X_train, y_train)
    assert clf.model_.name == "dnn"
    assert len(clf.loss_curve_) == 2
    assert sorted(trainable_values(clf)) == [(3, 1), (3, 6), (6, 1), (6, 4)]


def test_string_labels():
    X_train, X_test, y_train, y_test = split(load_iris)
    names = np.array(["virginica", "setosa", "versicolor"])  # not in sorted order on purpose
    clf = MatrixSlowClassifier(random_state=0).fit(X_train, names[y_train])
    assert list(clf.classes_) == ["setosa", "versicolor", "virginica"]
    predictions = clf.predict(X_test)
    assert set(predictions) <= set(names)
    assert np.mean(predictions == names[y_test]) > 0.8

    binary = np.where(y_train == 0, "yes", "no")
    clf = MatrixSlowClassifier(random_state=0).fit(X_train, binary)
    assert list(clf.classes_) == ["no", "yes"]
    np.testing.assert_array_equal(clf.predict(X_test), np.where(y_test == 0, "yes", "no"))


def test_random_state_makes_fits_repeatable_and_leaves_numpy_alone():
    X_train, X_test, y_train, _ = split(load_iris)
    np.random.seed(123)
    expected_draw = np.random.rand()
    np.random.seed(123)
    first = MatrixSlowClassifier(model="dnn", hidden_sizes=(8,), epochs=5, random_state=7).fit(X_train, y_train)
    assert np.random.rand() == expected_draw  # the global generator is where it was
    again = MatrixSlowClassifier(model="dnn", hidden_sizes=(8,), epochs=5, random_state=7).fit(X_train, y_train)
    other = MatrixSlowClassifier(model="dnn", hidden_sizes=(8,), epochs=5, random_state=8).fit(X_train, y_train)
    np.testing.assert_array_equal(first.predict_proba(X_test), again.predict_proba(X_test))
    assert not np.allclose(first.predict_proba(X_test), other.predict_proba(X_test))


def test_estimators_live_side_by_side_and_survive_pickling():
    X_train, X_test, y_train, _ = split(load_iris)
    first = MatrixSlowClassifier(epochs=5, random_state=0).fit(X_train, y_train)
    before = first.predict_proba(X_test)
    second = MatrixSlowClassifier(model="dnn", epochs=5, random_state=1).fit(X_train, y_train)
    np.testing.assert_array_equal(first.predict_proba(X_test), before)
    assert second.graph_ is not first.graph_
    restored = pickle.loads(pickle.dumps(first))
    np.testing.assert_array_equal(restored.predict_proba(X_test), before)


def test_dtype_float32_builds_a_float32_graph():
    X_train, X_test, y_train, y_test = split(load_iris)
    clf = MatrixSlowClassifier(dtype="float32", random_state=0).fit(X_train, y_train)
    assert clf.graph_.dtype is np.float32
    assert clf.predict_proba(X_test).dtype == np.float64
    assert clf.score(X_test, y_test) > 0.8


def test_verbose_false_logs_nothing(caplog):
    X_train, _, y_train, _ = split(load_iris)
    with caplog.at_level("INFO", logger="matrixslow.trainer"):
        MatrixSlowClassifier(epochs=2, random_state=0).fit(X_train, y_train)
        assert caplog.records == []
        MatrixSlowClassifier(epochs=2, random_state=0, verbose=True).fit(X_train, y_train)
    assert any("Epoch 2/2" in record.getMessage() for record in caplog.records)


def test_import_matrixslow_does_not_load_the_estimators():
    code = "import sys, matrixslow; assert 'matrixslow.estimators' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


# -- errors ----------------------------------------------------------------


def test_predict_before_fit_raises_not_fitted():
    X = np.zeros((2, 3))
    for estimator in (MatrixSlowClassifier(), MatrixSlowRegressor()):
        with pytest.raises(NotFittedError):
            estimator.predict(X)
    with pytest.raises(NotFittedError):
        MatrixSlowClassifier().predict_proba(X)


def test_wrong_number_of_features_names_the_expected_count():
    X_train, X_test, y_train, _ = split(load_iris)
    clf = MatrixSlowClassifier(epochs=1, random_state=0).fit(X_train, y_train)
    with pytest.raises(ValueError, match="X has 3 features, but MatrixSlowClassifier is expecting 4 features"):
        clf.predict(X_test[:, :3])


def test_nan_input_is_refused():
    X_train, _, y_train, _ = split(load_diabetes)
    X_train[3, 2] = np.nan
    with pytest.raises(ValueError, match="Input X contains NaN"):
        MatrixSlowRegressor(epochs=1).fit(X_train, y_train)


def test_bad_settings_are_named_at_fit():
    X_train, _, y_train, _ = split(load_iris)
    with pytest.raises(ValueError, match="MatrixSlowClassifier: unknown model 'svm'"):
        MatrixSlowClassifier(model="svm").fit(X_train, y_train)
    with pytest.raises(ValueError, match="'logistic_regression' takes 2 classes, y has 3"):
        MatrixSlowClassifier(model="logistic_regression").fit(X_train, y_train)
    with pytest.raises(ValueError, match="unknown optimizer 'SGD'"):
        MatrixSlowRegressor(optimizer="SGD").fit(X_train, y_train)
    with pytest.raises(ValueError, match="MatrixSlowRegressor: unknown model 'softmax_regression'"):
        MatrixSlowRegressor(model="softmax_regression").fit(X_train, y_train)
    with pytest.raises(ValueError, match="only one class"):
        MatrixSlowClassifier().fit(X_train, np.zeros(len(X_train)))


def test_optimizer_may_be_given_as_a_class():
    X_train, X_test, y_train, y_test = split(load_iris)
    clf = MatrixSlowClassifier(optimizer=ms.optimizer.RMSProp, random_state=0).fit(X_train, y_train)
    assert isinstance(clf.trainer_.optimizer, ms.optimizer.RMSProp)
    assert clf.score(X_test, y_test) > 0.8


# -- scikit-learn's own estimator checks -----------------------------------


@parametrize_with_checks(
    [
        MatrixSlowClassifier(epochs=20, random_state=0),
        MatrixSlowClassifier(model="dnn", hidden_sizes=(8,), epochs=20, random_state=0),
        MatrixSlowRegressor(epochs=20, random_state=0),
        MatrixSlowRegressor(model="dnn", hidden_sizes=(8,), epochs=20, random_state=0),
    ]
)
def test_sklearn_estimator_check(estimator, check, monkeypatch):
    # check_array_api_input skips itself unless SCIPY_ARRAY_API=1 (scikit-learn's
    # condition for array API dispatch). It feeds NumPy arrays only, which SciPy
    # handles the same either way, so the variable is set for this test instead of
    # for the whole run.
    monkeypatch.setenv("SCIPY_ARRAY_API", "1")
    check(estimator)
