"""One epoch of the digits MLP (64-64-32-10, batch 32): matrixslow beside NumPy and scikit-learn's MLPClassifier.

All three train on the 1,347 training digits, reshuffled every epoch, with the same hidden sizes,
solver (Adam: lr 0.001, beta_2 0.99, epsilon 1e-8; SGD: lr 0.01, no momentum), batch size and no
L2 penalty. One difference stays: MLPClassifier's ReLU is not leaky (matrixslow's has slope 0.1).
The scikit-learn model is initialised by one ``partial_fit`` before timing; every timed call is one
``partial_fit``, i.e. one epoch.
"""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier

import matrixslow as ms
from matrixslow import datasets

from . import engine_models
from .numpy_mlp import NumpyMLP
from .settings import pick
from .timing import measure

HIDDEN = (64, 32)
BATCH = 32
SOLVERS = {"adam": (ms.optimizer.Adam, 0.001), "sgd": (ms.optimizer.GradientDescent, 0.01)}
TRAIN_SAMPLES = pick(None, None, tiny=96)  # None: the whole training split


def digits():
    data = datasets.load_digits(seed=0)
    return data.train_x[:TRAIN_SAMPLES], data.train_y[:TRAIN_SAMPLES]


def matrixslow_epoch(images, labels, solver):
    optimizer_class, learning_rate = SOLVERS[solver]
    _, model, optimizer = engine_models.build_matrixslow("mlp", optimizer=optimizer_class, learning_rate=learning_rate)
    rng = np.random.default_rng(0)

    def epoch():
        order = rng.permutation(len(labels))
        for start in range(0, len(order), BATCH):
            rows = order[start : start + BATCH]
            engine_models.feed_matrixslow("mlp", model, images[rows], labels[rows])
            optimizer.one_step()
            optimizer.update()

    return epoch


def numpy_epoch(images, labels, solver):
    _, learning_rate = SOLVERS[solver]
    sizes = (engine_models.PIXELS, *HIDDEN, engine_models.CLASSES)
    model = NumpyMLP(sizes, np.random.default_rng(0), learning_rate=learning_rate, optimizer=solver)
    x, one_hot = images.reshape(len(images), -1), np.eye(engine_models.CLASSES)[labels]
    rng = np.random.default_rng(0)

    def epoch():
        order = rng.permutation(len(labels))
        for start in range(0, len(order), BATCH):
            rows = order[start : start + BATCH]
            model.step(x[rows], one_hot[rows])

    return epoch


def sklearn_epoch(images, labels, solver):
    _, learning_rate = SOLVERS[solver]
    options = {"beta_2": 0.99, "epsilon": 1e-8} if solver == "adam" else {"momentum": 0.0, "nesterovs_momentum": False}
    model = MLPClassifier(
        hidden_layer_sizes=HIDDEN, activation="relu", solver=solver, alpha=0.0, batch_size=BATCH,
        learning_rate_init=learning_rate, shuffle=True, random_state=0, **options,
    )  # fmt: skip
    x = images.reshape(len(images), -1)
    classes = np.arange(engine_models.CLASSES)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.partial_fit(x, labels, classes=classes)  # initialises the weights: not part of an epoch
    return lambda: model.partial_fit(x, labels)


EPOCHS = {"matrixslow": matrixslow_epoch, "numpy": numpy_epoch, "sklearn": sklearn_epoch}


@pytest.mark.parametrize("engine", list(EPOCHS))
@pytest.mark.parametrize("solver", list(SOLVERS))
def test_mlp_epoch(benchmark, solver, engine):
    images, labels = digits()
    epoch = EPOCHS[engine](images, labels, solver)
    benchmark.group = f"mlp_epoch[{solver}]"
    benchmark.extra_info.update(
        kind="mlp_epoch", model="mlp-64-64-32-10", solver=solver, engine=engine, batch=BATCH, samples=len(labels)
    )
    median = measure(benchmark, epoch)
    benchmark.extra_info["samples_per_second"] = len(labels) / median
