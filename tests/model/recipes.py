"""Training recipes: every model builder on a real data set, with settings that train it well and quickly.

A ``Recipe`` names the data set, how to build the model and encode its labels,
the metric nodes that score it on the held-out test split, and the optimizer,
learning rate, epochs and batch size. ``train(recipe, seed)`` runs it through
``SimpleTrainer`` (``np.random.seed(seed)`` for the weights, ``seed`` for the
shuffling) and returns the history and the test scores. Regression recipes are
scored by R², computed with NumPy from ``trainer.predict``.
"""

import functools
from dataclasses import dataclass

import numpy as np

import datasets
import matrixslow as ms
from matrixslow.ops import metrics


@dataclass(frozen=True)
class Recipe:
    name: str  # "builder/data set"
    load: object  # () -> Dataset
    build: object  # Dataset -> Model, in the current default graph
    scores: tuple  # metric node class names ("Accuracy", "ROC_AUC"), or ("R2",) for regression
    learning_rate: float
    epochs: int
    batch_size: int
    optimizer: str = "Adam"
    encode: object = None  # (Dataset, y) -> labels in the layout of model.label; None keeps y


@functools.cache
def load(name):
    """A data set by its loader's name, loaded once per test session (the loaders are deterministic)."""
    return getattr(datasets, f"load_{name}")()


def _digits_flat():
    return load("digits").flattened()


def _one_hot(data, y):
    return datasets.one_hot(y, data.num_classes)


def _signed(data, y):
    """{0, 1} -> {-1, +1}, the perceptron's labels."""
    return 2.0 * y - 1.0


def _width(data):
    return data.train_x.shape[1]


RECIPES = {
    recipe.name: recipe
    for recipe in (
        Recipe(
            name="logistic_regression/breast_cancer",
            load=lambda: load("breast_cancer"),
            build=lambda data: ms.model.logistic_regression(_width(data)),
            scores=("Accuracy", "ROC_AUC"),
            learning_rate=0.01,
            epochs=30,
            batch_size=32,
        ),
        Recipe(
            name="softmax_regression/iris",
            load=lambda: load("iris"),
            build=lambda data: ms.model.softmax_regression(_width(data), data.num_classes),
            scores=("Accuracy",),
            learning_rate=0.1,
            epochs=20,
            batch_size=16,
            encode=_one_hot,
        ),
        Recipe(
            name="softmax_regression/digits",
            load=_digits_flat,
            build=lambda data: ms.model.softmax_regression(_width(data), data.num_classes),
            scores=("Accuracy",),
            learning_rate=0.01,
            epochs=20,
            batch_size=32,
            encode=_one_hot,
        ),
        Recipe(
            name="perceptron/breast_cancer",
            load=lambda: load("breast_cancer"),
            build=lambda data: ms.model.perceptron(_width(data)),
            scores=("Accuracy",),
            learning_rate=0.1,
            epochs=30,
            batch_size=16,
            optimizer="GradientDescent",
            encode=_signed,
        ),
        Recipe(
            name="linear_regression/diabetes",
            load=lambda: load("diabetes"),
            build=lambda data: ms.model.linear_regression(_width(data)),
            scores=("R2",),
            learning_rate=0.01,
            epochs=100,
            batch_size=32,
        ),
        Recipe(
            name="factorization_machine/titanic",
            load=lambda: load("titanic"),
            build=lambda data: ms.model.factorization_machine(_width(data), 4, fields=data.fields),
            scores=("ROC_AUC",),
            learning_rate=0.01,
            epochs=15,
            batch_size=32,
        ),
        Recipe(
            name="factorization_machine/movielens",
            load=lambda: load("movielens_clicks"),
            build=lambda data: ms.model.factorization_machine(_width(data), 4, fields=data.fields),
            scores=("ROC_AUC",),
            learning_rate=0.005,
            epochs=8,
            batch_size=64,
        ),
        Recipe(
            name="dnn/digits",
            load=_digits_flat,
            build=lambda data: ms.model.dnn(_width(data), [64, 32], data.num_classes),
            scores=("Accuracy",),
            learning_rate=0.002,
            epochs=20,
            batch_size=32,
            encode=_one_hot,
        ),
        Recipe(
            name="cnn/digits",
            load=lambda: load("digits"),
            build=lambda data: ms.model.cnn(data.sample_shape, data.num_classes),
            scores=("Accuracy",),
            learning_rate=0.002,
            epochs=20,
            batch_size=32,
            encode=_one_hot,
        ),
        Recipe(
            name="rnn/sine_square",
            load=lambda: load("sine_square"),
            build=lambda data: ms.model.rnn(*data.sample_shape, 12, data.num_classes, activation="Tanh"),
            scores=("Accuracy",),
            learning_rate=0.005,
            epochs=30,
            batch_size=16,
            encode=_one_hot,
        ),
        Recipe(
            name="wide_and_deep/titanic",
            load=lambda: load("titanic"),
            build=lambda data: ms.model.wide_and_deep(data.fields, 4, [16, 8]),
            scores=("ROC_AUC",),
            learning_rate=0.005,
            epochs=15,
            batch_size=32,
        ),
        Recipe(
            name="deepfm/titanic",
            load=lambda: load("titanic"),
            build=lambda data: ms.model.deepfm(data.fields, 4, [16, 8]),
            scores=("ROC_AUC",),
            learning_rate=0.005,
            epochs=15,
            batch_size=32,
        ),
    )
}


@dataclass
class Run:
    history: list  # SimpleTrainer.history: one dict per epoch
    scores: dict  # score name -> value on the test split after the last epoch
    predictions: np.ndarray  # model.predict over the test split, (N, *label dim)
    test_labels: np.ndarray  # the encoded test labels


def train(recipe, seed):
    """Train ``recipe`` from weights seeded by ``seed`` and score it on the test split."""
    data = recipe.load()
    encode = recipe.encode or (lambda data, y: y)
    train_y, test_y = encode(data, data.train_y), encode(data, data.test_y)
    np.random.seed(seed)  # the builders draw their initial weights from NumPy's global generator
    with ms.core.Graph() as graph:
        model = recipe.build(data)
        metric_nodes = [getattr(metrics, name)(model.predict, model.label) for name in recipe.scores if name != "R2"]
        optimizer = getattr(ms.optimizer, recipe.optimizer)(graph, model.loss, recipe.learning_rate)
        trainer = ms.trainer.SimpleTrainer(
            model.inputs,
            model.label,
            model.loss,
            optimizer,
            epoches=recipe.epochs,
            batch_size=recipe.batch_size,
            eval_on_train=bool(metric_nodes),
            metrics_ops=metric_nodes,
            seed=seed,
            verbose=False,
        )
        test_x = model.feed(data.test_x)
        trainer.train_and_eval(model.feed(data.train_x), train_y, test_x, test_y)
        predictions = trainer.predict(test_x, model.predict)
    last = trainer.history[-1]
    scores = {name: last[name] for name in recipe.scores if name != "R2"}
    if "R2" in recipe.scores:
        scores["R2"] = r_squared(test_y, predictions.reshape(-1))
    return Run(trainer.history, scores, predictions, test_y)


def r_squared(targets, predictions):
    """The coefficient of determination: 1 - residual sum of squares / total sum of squares."""
    residual = np.sum((targets - predictions) ** 2)
    total = np.sum((targets - np.mean(targets)) ** 2)
    return float(1.0 - residual / total)
