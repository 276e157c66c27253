"""The ``Dataset`` container and the helpers every loader shares: split, standardise, one-hot."""

import dataclasses

import numpy as np

from .dependencies import require

TASKS = ("binary", "multiclass", "regression")


@dataclasses.dataclass
class Dataset:
    """A train/test split of one data set, ready to feed a graph.

    Parameters
    ----------
    train_x, test_x : ndarray of float64
        One sample per row: ``(N, features)`` for tables, ``(N, rows, cols)`` for
        images, ``(N, T, features)`` for sequences.
    train_y, test_y : ndarray
        ``(N,)`` int class labels (``0 .. len(classes) - 1``) for classification,
        ``(N,)`` float targets for regression.
    feature_names : list of str
        Names of the columns of a table, of the pixels (row-major) of an image, or
        of the per-step features of a sequence.
    classes : list or None
        ``classes[label]`` is the meaning of a label; None for regression.
    task : {"binary", "multiclass", "regression"}
    name : str
    fields : dict of str to list of int, optional
        For field-structured tables (FM, DeepFM, Wide & Deep): field name -> the
        column indices it owns, in order. A one-hot group is one field, a numeric
        column is a field of its own. Every column belongs to exactly one field.
    train_rows, test_rows : ndarray of int, optional
        Positions in the source table of the rows in the train and test parts, so
        that every sample can be traced back to the raw data.
    target_mean, target_std : float, optional
        For standardised regression targets: ``raw = y * target_std + target_mean``.
    """

    train_x: np.ndarray
    train_y: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray
    feature_names: list
    classes: list | None
    task: str
    name: str
    fields: dict | None = None
    train_rows: np.ndarray | None = None
    test_rows: np.ndarray | None = None
    target_mean: float | None = None
    target_std: float | None = None

    def __post_init__(self):
        if self.task not in TASKS:
            raise ValueError(f"dataset {self.name!r}: task must be one of {TASKS}, got {self.task!r}")
        self.train_x = np.asarray(self.train_x, dtype=np.float64)
        self.test_x = np.asarray(self.test_x, dtype=np.float64)
        self.train_y = self._checked_targets(self.train_y, "train_y")
        self.test_y = self._checked_targets(self.test_y, "test_y")
        self.feature_names = list(self.feature_names)
        self._check_shapes()
        if self.fields is not None:
            self._check_fields()

    @property
    def num_classes(self):
        """The number of classes, or None for regression."""
        return None if self.classes is None else len(self.classes)

    @property
    def sample_shape(self):
        """The shape of one sample of x: ``(features,)``, ``(rows, cols)`` or ``(T, features)``."""
        return self.train_x.shape[1:]

    def split_fields(self, x):
        """Cut the columns of ``x`` into its fields.

        Parameters
        ----------
        x : ndarray, shape (N, features)
            Rows of this data set, for example ``train_x`` or a batch of it.

        Returns
        -------
        dict of str to ndarray
            Field name -> its ``(N, len(columns))`` block of ``x``, in field order.
        """
        if self.fields is None:
            raise ValueError(f"dataset {self.name!r} has no fields; only field-structured tables can be split")
        x = np.asarray(x)
        width = self.train_x.shape[1]
        if x.ndim != 2 or x.shape[1] != width:
            raise ValueError(f"dataset {self.name!r}: split_fields expects shape (N, {width}), got {x.shape}")
        return {field: x[:, columns] for field, columns in self.fields.items()}

    def flattened(self):
        """The same data set with every sample flattened to one row: ``(N, rows * cols)``.

        Pixel names are kept; per-step feature names of a sequence become
        ``"name[step]"``, one per column, in row-major order.
        """
        if self.train_x.ndim == 2:
            return self
        steps, width = int(np.prod(self.sample_shape[:-1])), self.sample_shape[-1]
        names = self.feature_names
        if len(names) != steps * width:
            if len(names) != width:
                raise ValueError(
                    f"dataset {self.name!r}: {len(names)} feature names fit neither the {steps * width} values "
                    f"nor the {width} per-step features of a sample of shape {self.sample_shape}"
                )
            names = [f"{name}[{step}]" for step in range(steps) for name in names]
        return dataclasses.replace(
            self,
            train_x=self.train_x.reshape(len(self.train_x), -1),
            test_x=self.test_x.reshape(len(self.test_x), -1),
            feature_names=names,
        )

    def _checked_targets(self, y, part):
        y = np.asarray(y)
        if y.ndim != 1:
            raise ValueError(f"dataset {self.name!r}: {part} must have shape (N,), got {y.shape}")
        if self.task == "regression":
            return y.astype(np.float64)
        if self.classes is None:
            raise ValueError(f"dataset {self.name!r}: a {self.task} task needs its list of classes")
        labels = y.astype(np.int64)
        if not np.array_equal(labels, y) or labels.min(initial=0) < 0 or labels.max(initial=0) >= len(self.classes):
            raise ValueError(
                f"dataset {self.name!r}: {part} must hold int labels 0..{len(self.classes) - 1} "
                f"(classes {self.classes}), got values {np.unique(y)[:10]}"
            )
        return labels

    def _check_shapes(self):
        for part, x, y in (("train", self.train_x, self.train_y), ("test", self.test_x, self.test_y)):
            if x.ndim < 2 or len(x) != len(y):
                raise ValueError(
                    f"dataset {self.name!r}: {part}_x must have shape (N, ...) with N = len({part}_y) = {len(y)}, "
                    f"got {x.shape}"
                )
            if not np.isfinite(x).all() or not np.isfinite(y).all():
                raise ValueError(f"dataset {self.name!r}: the {part} part holds NaN or infinite values")
        if self.train_x.shape[1:] != self.test_x.shape[1:]:
            raise ValueError(
                f"dataset {self.name!r}: train and test samples differ in shape: "
                f"{self.train_x.shape[1:]} and {self.test_x.shape[1:]}"
            )
        if self.train_x.ndim == 2 and len(self.feature_names) != self.train_x.shape[1]:
            raise ValueError(
                f"dataset {self.name!r}: {len(self.feature_names)} feature names for {self.train_x.shape[1]} columns"
            )

    def _check_fields(self):
        if self.train_x.ndim != 2:
            raise ValueError(
                f"dataset {self.name!r}: fields need a table of shape (N, features), got {self.train_x.shape}"
            )
        width = self.train_x.shape[1]
        columns = sorted(column for field_columns in self.fields.values() for column in field_columns)
        if columns != list(range(width)):
            raise ValueError(
                f"dataset {self.name!r}: fields must cover every column 0..{width - 1} exactly once, got {self.fields}"
            )


def one_hot(labels, classes):
    """One row per label with a 1 in the column of its class.

    Parameters
    ----------
    labels : array-like, shape (N,)
        Int labels ``0 .. k - 1`` if ``classes`` is an int, otherwise values found in ``classes``.
    classes : int or sequence
        The number of classes ``k``, or the class values in column order.

    Returns
    -------
    ndarray of float64, shape (N, k)
    """
    labels = np.asarray(labels)
    if isinstance(classes, (int, np.integer)):
        count = int(classes)
        in_range = labels.size == 0 or (labels.min() >= 0 and labels.max() < count)
        if not in_range or not np.array_equal(labels, labels.astype(int)):
            raise ValueError(f"one_hot: labels must be ints in 0..{count - 1}, got values {np.unique(labels)[:10]}")
        positions = labels.astype(np.int64)
    else:
        classes = list(classes)
        count = len(classes)
        column_of = {value: column for column, value in enumerate(classes)}
        unknown = [label for label in np.unique(labels) if label not in column_of]
        if unknown:
            raise ValueError(f"one_hot: labels {unknown[:10]} are not among the classes {classes}")
        positions = np.array([column_of[label] for label in labels.tolist()], dtype=np.int64)
    encoded = np.zeros((len(labels), count))
    encoded[np.arange(len(labels)), positions] = 1.0
    return encoded


def standardise(train, test):
    """Scale every column to mean 0 and std 1 with the statistics of the train part only.

    Using the test part's statistics would leak it into training. A column that is
    constant in the train part is only centred (its std is taken as 1).

    Returns
    -------
    train, test : ndarray of float64
        The standardised parts.
    mean, std : ndarray of float64, shape (features,)
        The train statistics used (population std, ``ddof=0``).
    """
    train = np.asarray(train, dtype=np.float64)
    test = np.asarray(test, dtype=np.float64)
    mean = train.mean(axis=0)
    std = train.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    return (train - mean) / std, (test - mean) / std, mean, std


def split_rows(count, test_size, seed, stratify, dataset):
    """Deterministic train/test row positions for a table of ``count`` rows.

    Parameters
    ----------
    count : int
        The number of rows.
    test_size : float or int
        The test fraction (or number of rows), as in ``sklearn.model_selection.train_test_split``.
    seed : int
        Same seed, same split.
    stratify : array-like or None
        Labels whose class proportions both parts keep (classification); None for regression.
    dataset : str
        The data set's name, for the missing-package error.

    Returns
    -------
    train_rows, test_rows : ndarray of int
    """
    model_selection = require("sklearn.model_selection", dataset)
    train_rows, test_rows = model_selection.train_test_split(
        np.arange(count), test_size=test_size, random_state=seed, stratify=stratify
    )
    return train_rows, test_rows
