"""scikit-learn estimators around the model zoo: ``MatrixSlowClassifier`` and ``MatrixSlowRegressor``.

    from matrixslow.estimators import MatrixSlowClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    clf = make_pipeline(StandardScaler(), MatrixSlowClassifier(model="dnn", hidden_sizes=(16,), random_state=0))
    clf.fit(X_train, y_train).score(X_test, y_test)

Both follow scikit-learn's estimator contract, so ``clone``, ``Pipeline``,
``cross_val_score`` and ``GridSearchCV`` work with them. This module imports
scikit-learn (the ``data`` extra); ``import matrixslow`` does not import it.
It is called ``estimators`` rather than ``sklearn`` so that ``matrixslow.sklearn``
is never mistaken for, or confused in a traceback with, scikit-learn itself.

Design
------
- ``__init__`` only stores its arguments; ``fit`` checks them and does the work.
- Every ``fit`` builds a fresh ``Graph`` (kept as ``graph_``), so several
  estimators, their clones and the folds of a cross-validation live side by side
  and nothing is added to ``ms.default_graph``.
- ``random_state`` (None, an int or a ``RandomState``) gives two seeds: one for
  the initial weights (which ``Variable(init=True)`` draws from NumPy's global
  generator, so the global state is saved and restored around the build) and one
  for the trainer's shuffling. The same ``random_state`` gives the same model.
- Training is ``SimpleTrainer`` with the chosen optimizer; ``loss_curve_`` holds
  the mean training loss of every epoch.
- The classifier encodes labels with ``LabelEncoder`` (``classes_``, any labels,
  strings included). ``model="auto"`` is logistic regression for two classes and
  softmax regression for more. ``predict_proba`` is (n, n_classes); a binary
  logistic output p becomes the columns [1 - p, p].
- The regressor standardises the target for training and undoes it in
  ``predict`` (``target_mean_``, ``target_scale_``), so the same learning rate
  suits targets of any scale (diabetes' targets are in the hundreds).

scikit-learn's ``check_estimator`` passes for both estimators with no checks
excluded and no tags changed from the defaults of ``ClassifierMixin`` /
``RegressorMixin`` (scikit-learn 1.9; ``tests/test_estimators.py`` runs every
check). Two choices make some of them pass:

- ``fit`` on a single class raises ``ValueError`` ("... only one class ...");
  a model that always answers one label is not worth training.
- Input checks (NaN, infinity, complex, sparse, 1-D, empty, wrong number of
  features, feature names) are scikit-learn's ``validate_data`` (``check_X_y`` /
  ``check_array`` plus the ``n_features_in_`` and ``feature_names_in_``
  bookkeeping), so the messages are the ones its checks expect.

``check_array_api_input`` skips itself unless SCIPY_ARRAY_API=1; the test sets
that variable for the checks, so this one runs (on NumPy inputs) and passes too.
"""

from functools import partial

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from . import optimizer as optimizers
from .core.graph import Graph
from .core.scope import name_scope
from .layer import fc
from .model import dnn, linear_regression, logistic_regression, softmax_regression
from .model.base import Model
from .model.blocks import check_choice, check_sizes, hidden_layers, input_variable
from .model.dnn import ACTIVATIONS
from .ops.loss import MeanSquaredError
from .trainer import SimpleTrainer

CLASSIFIER_MODELS = ("auto", "logistic_regression", "softmax_regression", "dnn")
REGRESSOR_MODELS = ("linear_regression", "dnn")
OPTIMIZERS = ("GradientDescent", "Momentum", "AdaGrad", "RMSProp", "Adam")


class _MatrixSlowEstimator(BaseEstimator):
    """What both estimators share: build a fresh graph, train it, and read an output node for new X."""

    def _train(self, X, targets, build):
        """Build ``build(n_features)`` into a new graph and train it on ``X`` and ``targets``.

        Sets ``graph_``, ``model_``, ``trainer_`` and ``loss_curve_``.
        """
        optimizer_class = self._optimizer_class()
        rng = check_random_state(self.random_state)
        weight_seed, shuffle_seed = rng.randint(np.iinfo(np.int32).max, size=2)
        graph = Graph(dtype=self.dtype)
        # The weights come from NumPy's global generator: seed it for the build,
        # then put back whatever state the caller had.
        saved_state = np.random.get_state()
        try:
            np.random.seed(weight_seed)
            with graph:
                model = build(X.shape[1])
                optimizer = optimizer_class(graph, model.loss, learning_rate=self.learning_rate)
                trainer = SimpleTrainer(
                    model.inputs,
                    model.label,
                    model.loss,
                    optimizer,
                    epoches=self.epochs,
                    batch_size=self.batch_size,
                    seed=int(shuffle_seed),
                    verbose=self.verbose,
                )
            trainer.train_and_eval(model.feed(X), targets)
        finally:
            np.random.set_state(saved_state)
        self.graph_, self.model_, self.trainer_ = graph, model, trainer
        self.loss_curve_ = [record["loss"] for record in trainer.history]

    def _outputs(self, X):
        """The model's prediction for every row of ``X``, as an (n_samples, values per sample) float64 array."""
        check_is_fitted(self, "model_")
        X = validate_data(self, X, reset=False, dtype=np.float64)
        values = self.trainer_.predict(self.model_.feed(X), self.model_.predict)
        return np.asarray(values, dtype=np.float64).reshape(len(X), -1)

    def _optimizer_class(self):
        name = self.optimizer
        if isinstance(name, type) and issubclass(name, optimizers.Optimizer):
            return name
        check_choice(type(self).__name__, "optimizer", name, OPTIMIZERS)
        return getattr(optimizers, name)


class MatrixSlowClassifier(ClassifierMixin, _MatrixSlowEstimator):
    """A matrixslow classifier with scikit-learn's interface.

    Parameters
    ----------
    model : "auto", "logistic_regression", "softmax_regression" or "dnn", default "auto"
        The builder of ``ms.model``. "auto" is logistic regression for two
        classes and softmax regression for more; logistic regression takes two
        classes only.
    hidden_sizes : tuple of int, default (32,)
        The hidden layers of "dnn" (ignored by the other models).
    activation : "ReLU", "Logistic" or "Tanh", default "ReLU"
        The hidden layers' activation ("dnn" only).
    optimizer : str or Optimizer subclass, default "Adam"
        A name in ``ms.optimizer`` ("GradientDescent", "Momentum", "AdaGrad",
        "RMSProp", "Adam") or the class itself.
    learning_rate : float, default 0.01
    epochs : int, default 50
        Passes over the training set.
    batch_size : int, default 32
    random_state : None, int or RandomState, default None
        Seeds the initial weights and the shuffling.
    verbose : bool, default False
        Let the trainer log and show a progress bar.
    dtype : "float32", "float64" or None, default None
        The graph's float type; None follows ``ms.core.set_default_dtype``.

    Attributes
    ----------
    classes_ : ndarray
        The labels, sorted; column j of ``predict_proba`` is ``classes_[j]``.
    n_features_in_ : int
    graph_ : Graph
        The trained graph, one per ``fit``.
    model_ : Model
        Its inputs, label, predict and loss nodes.
    trainer_ : SimpleTrainer
    loss_curve_ : list of float
        Mean training loss per epoch.
    """

    def __init__(
        self,
        model="auto",
        hidden_sizes=(32,),
        activation="ReLU",
        optimizer="Adam",
        learning_rate=0.01,
        epochs=50,
        batch_size=32,
        random_state=None,
        verbose=False,
        dtype=None,
    ):
        self.model = model
        self.hidden_sizes = hidden_sizes
        self.activation = activation
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.epochs = epochs
        self.batch_size = batch_size
        self.random_state = random_state
        self.verbose = verbose
        self.dtype = dtype

    def fit(self, X, y):
        """Train a new model on ``X`` (n_samples, n_features) and labels ``y``; returns self."""
        X, y = validate_data(self, X, y, dtype=np.float64)
        check_classification_targets(y)
        encoder = LabelEncoder().fit(y)
        classes = encoder.classes_
        if len(classes) < 2:
            raise ValueError(
                f"{type(self).__name__}: y has only one class ({classes[0]!r}); fit needs samples of 2 classes or more"
            )
        family = self._family(len(classes))
        codes = encoder.transform(y)
        # LogLoss takes 0/1 labels; the SoftMax models take one-hot columns.
        targets = codes.astype(np.float64) if family == "logistic_regression" else np.eye(len(classes))[codes]
        self._train(X, targets, self._builder(family, len(classes)))
        self.classes_ = classes
        return self

    def predict_proba(self, X):
        """Class probabilities, (n_samples, n_classes), columns in the order of ``classes_``."""
        probabilities = self._outputs(X)
        if probabilities.shape[1] == 1:  # one logistic output: the probability of classes_[1]
            positive = probabilities[:, 0]
            return np.column_stack([1.0 - positive, positive])
        return probabilities

    def predict(self, X):
        """The most probable label of every row of ``X``."""
        probabilities = self.predict_proba(X)  # first: it raises NotFittedError before classes_ is read
        return self.classes_[np.argmax(probabilities, axis=1)]

    def _family(self, n_classes):
        name = type(self).__name__
        check_choice(name, "model", self.model, CLASSIFIER_MODELS)
        if self.model == "auto":
            return "logistic_regression" if n_classes == 2 else "softmax_regression"
        if self.model == "logistic_regression" and n_classes != 2:
            raise ValueError(
                f"{name}: model 'logistic_regression' takes 2 classes, y has {n_classes}; "
                "use 'softmax_regression', 'dnn' or 'auto'"
            )
        return self.model

    def _builder(self, family, n_classes):
        if family == "logistic_regression":
            return logistic_regression
        if family == "softmax_regression":
            return partial(softmax_regression, classes=n_classes)
        return partial(dnn, hidden_sizes=list(self.hidden_sizes), classes=n_classes, activation=self.activation)


class MatrixSlowRegressor(RegressorMixin, _MatrixSlowEstimator):
    """A matrixslow regressor (one target) with scikit-learn's interface.

    Parameters
    ----------
    model : "linear_regression" or "dnn", default "linear_regression"
        "linear_regression" is ``ms.model.linear_regression``; "dnn" is a
        fully connected network, x -> Hidden1 -> ... -> Output (1), trained on
        the mean squared error.
    hidden_sizes, activation, optimizer, learning_rate, epochs, batch_size, random_state, verbose, dtype
        As for ``MatrixSlowClassifier``.

    Attributes
    ----------
    n_features_in_ : int
    target_mean_, target_scale_ : float
        The model is trained on (y - target_mean_) / target_scale_, and
        ``predict`` maps its output back.
    graph_, model_, trainer_, loss_curve_
        As for ``MatrixSlowClassifier``.
    """

    def __init__(
        self,
        model="linear_regression",
        hidden_sizes=(32,),
        activation="ReLU",
        optimizer="Adam",
        learning_rate=0.01,
        epochs=50,
        batch_size=32,
        random_state=None,
        verbose=False,
        dtype=None,
    ):
        self.model = model
        self.hidden_sizes = hidden_sizes
        self.activation = activation
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.epochs = epochs
        self.batch_size = batch_size
        self.random_state = random_state
        self.verbose = verbose
        self.dtype = dtype

    def fit(self, X, y):
        """Train a new model on ``X`` (n_samples, n_features) and targets ``y`` (n_samples,); returns self."""
        X, y = validate_data(self, X, y, dtype=np.float64, y_numeric=True)
        check_choice(type(self).__name__, "model", self.model, REGRESSOR_MODELS)
        y = y.astype(np.float64)
        mean, scale = float(np.mean(y)), float(np.std(y))
        scale = scale if scale > 0.0 else 1.0  # a constant target: nothing to scale
        if self.model == "linear_regression":
            build = linear_regression
        else:
            build = partial(mlp_regression, hidden_sizes=list(self.hidden_sizes), activation=self.activation)
        self._train(X, (y - mean) / scale, build)
        self.target_mean_, self.target_scale_ = mean, scale
        return self

    def predict(self, X):
        """The predicted target of every row of ``X``, (n_samples,)."""
        return self._outputs(X)[:, 0] * self.target_scale_ + self.target_mean_


def mlp_regression(input_size, hidden_sizes, activation="ReLU"):
    """A fully connected regressor: x -> Hidden1 -> ... -> Output (1, 1), mean squared error.

    The zoo's ``dnn`` ends in SoftMax for classes; this is the same network with
    one linear output, as ``linear_regression`` is to ``softmax_regression``.
    """
    builder = "mlp_regression"
    hidden_sizes = check_sizes(builder, "hidden_sizes", hidden_sizes)
    check_choice(builder, "activation", activation, ACTIVATIONS)
    x = input_variable((input_size, 1), "x")
    label = input_variable((1, 1), "label")
    hidden, width = hidden_layers(x, input_size, hidden_sizes, activation)
    with name_scope("Output"):
        output = fc(hidden, width, 1, None, weights_init="glorot", bias_init="zeros")
    return Model(
        name=builder,
        inputs=[x],
        label=label,
        logits=output,
        predict=output,
        loss=MeanSquaredError(output, label, name="loss"),
    )
