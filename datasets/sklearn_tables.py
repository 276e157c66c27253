"""The small data sets bundled with scikit-learn (files inside the package: nothing is downloaded)."""

import numpy as np

from .base import Dataset, split_rows, standardise
from .dependencies import require


def load_iris(test_size=0.25, seed=0):
    """Fisher's iris: 150 flowers, 4 standardised measurements, 3 species.

    Returns a multiclass ``Dataset`` with x of shape ``(N, 4)``.
    """
    return _standardised_classification("iris", "load_iris", "multiclass", test_size, seed)


def load_breast_cancer(test_size=0.25, seed=0):
    """Wisconsin breast cancer: 569 tumours, 30 standardised features, 0 = malignant, 1 = benign.

    Returns a binary ``Dataset`` with x of shape ``(N, 30)``.
    """
    return _standardised_classification("breast_cancer", "load_breast_cancer", "binary", test_size, seed)


def load_wine(test_size=0.25, seed=0):
    """Wine recognition: 178 wines, 13 standardised chemical measurements, 3 cultivars.

    Returns a multiclass ``Dataset`` with x of shape ``(N, 13)``.
    """
    return _standardised_classification("wine", "load_wine", "multiclass", test_size, seed)


def load_digits(test_size=0.25, seed=0):
    """Handwritten digits: 1,797 grey images of 8x8 pixels scaled to [0, 1], labels 0-9.

    Returns a multiclass ``Dataset`` with x of shape ``(N, 8, 8)``; ``.flattened()``
    gives ``(N, 64)``. Pixels are only divided by 16 (their maximum), not standardised,
    so that they stay images.
    """
    bunch = require("sklearn.datasets", "digits").load_digits()
    images = bunch.images / 16.0
    labels = bunch.target
    train_rows, test_rows = split_rows(len(labels), test_size, seed, labels, "digits")
    rows, cols = images.shape[1:]
    return Dataset(
        train_x=images[train_rows],
        train_y=labels[train_rows],
        test_x=images[test_rows],
        test_y=labels[test_rows],
        feature_names=[f"pixel_{row}_{col}" for row in range(rows) for col in range(cols)],
        classes=list(range(10)),
        task="multiclass",
        name="digits",
        train_rows=train_rows,
        test_rows=test_rows,
    )


def load_diabetes(test_size=0.25, seed=0):
    """Diabetes progression: 442 patients, 10 standardised features, a float target.

    The raw features (``scaled=False``) and the target are standardised with the
    train part's statistics; ``target_mean`` and ``target_std`` undo the target's
    scaling: ``raw = y * target_std + target_mean``.

    Returns a regression ``Dataset`` with x of shape ``(N, 10)``.
    """
    bunch = require("sklearn.datasets", "diabetes").load_diabetes(scaled=False)
    train_rows, test_rows = split_rows(len(bunch.target), test_size, seed, None, "diabetes")
    train_x, test_x, _, _ = standardise(bunch.data[train_rows], bunch.data[test_rows])
    train_y, test_y, target_mean, target_std = standardise(bunch.target[train_rows], bunch.target[test_rows])
    return Dataset(
        train_x=train_x,
        train_y=train_y,
        test_x=test_x,
        test_y=test_y,
        feature_names=list(bunch.feature_names),
        classes=None,
        task="regression",
        name="diabetes",
        train_rows=train_rows,
        test_rows=test_rows,
        target_mean=float(target_mean),
        target_std=float(target_std),
    )


def _standardised_classification(name, loader, task, test_size, seed):
    """A scikit-learn table with a stratified split and train-standardised columns."""
    bunch = getattr(require("sklearn.datasets", name), loader)()
    labels = bunch.target
    train_rows, test_rows = split_rows(len(labels), test_size, seed, labels, name)
    train_x, test_x, _, _ = standardise(bunch.data[train_rows], bunch.data[test_rows])
    return Dataset(
        train_x=train_x,
        train_y=labels[train_rows],
        test_x=test_x,
        test_y=labels[test_rows],
        feature_names=[str(feature) for feature in bunch.feature_names],
        classes=[str(target) for target in np.asarray(bunch.target_names)],
        task=task,
        name=name,
        train_rows=train_rows,
        test_rows=test_rows,
    )
