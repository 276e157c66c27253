"""The scikit-learn tables, checked against the bundled raw data read directly from scikit-learn."""

import numpy as np
import pytest
import sklearn.datasets

from matrixslow import datasets

# loader, raw loader, task, classes, sample shape, total rows
TABLES = [
    (datasets.load_iris, sklearn.datasets.load_iris, "multiclass", 3, (4,), 150),
    (datasets.load_wine, sklearn.datasets.load_wine, "multiclass", 3, (13,), 178),
    (datasets.load_breast_cancer, sklearn.datasets.load_breast_cancer, "binary", 2, (30,), 569),
    (datasets.load_digits, sklearn.datasets.load_digits, "multiclass", 10, (8, 8), 1797),
    (datasets.load_diabetes, sklearn.datasets.load_diabetes, "regression", None, (10,), 442),
]
IDS = [loader.__name__ for loader, *_ in TABLES]
STANDARDISED = [entry for entry in TABLES if entry[0] is not datasets.load_digits]


@pytest.mark.parametrize("loader, raw_loader, task, classes, sample_shape, total", TABLES, ids=IDS)
def test_shapes_dtypes_and_task(loader, raw_loader, task, classes, sample_shape, total):
    table = loader()
    assert table.task == task
    assert table.num_classes == classes
    assert table.train_x.shape[1:] == table.test_x.shape[1:] == sample_shape
    assert len(table.train_x) + len(table.test_x) == total
    assert len(table.test_x) == int(np.ceil(0.25 * total))
    assert table.train_x.dtype == table.test_x.dtype == np.float64
    assert table.train_y.dtype == (np.float64 if task == "regression" else np.int64)
    assert len(table.feature_names) == int(np.prod(sample_shape))
    for part in (table.train_x, table.test_x, table.train_y, table.test_y):
        assert not np.isnan(part).any()


@pytest.mark.parametrize("loader, raw_loader, task, classes, sample_shape, total", TABLES, ids=IDS)
def test_rows_trace_back_to_the_raw_labels_and_split_is_stratified(
    loader, raw_loader, task, classes, sample_shape, total
):
    table = loader(test_size=0.3, seed=5)
    raw = raw_loader()
    rows = np.concatenate([table.train_rows, table.test_rows])
    np.testing.assert_array_equal(np.sort(rows), np.arange(total))
    if task == "regression":
        return
    np.testing.assert_array_equal(table.train_y, raw.target[table.train_rows])
    np.testing.assert_array_equal(table.test_y, raw.target[table.test_rows])
    for label in range(classes):
        share = np.mean(raw.target == label)
        assert abs(np.mean(table.test_y == label) - share) <= 1.0 / len(table.test_y)


@pytest.mark.parametrize("loader", [entry[0] for entry in TABLES], ids=IDS)
def test_same_seed_same_arrays_other_seed_other_split(loader):
    first, again, other = loader(seed=0), loader(seed=0), loader(seed=1)
    for name in ("train_x", "train_y", "test_x", "test_y"):
        np.testing.assert_array_equal(getattr(first, name), getattr(again, name))
    assert set(first.test_rows) != set(other.test_rows)
    assert not np.array_equal(first.train_x.mean(axis=0), other.train_x.mean(axis=0))


@pytest.mark.parametrize(
    "loader, raw_loader", [entry[:2] for entry in STANDARDISED], ids=[entry[0].__name__ for entry in STANDARDISED]
)
def test_features_are_standardised_with_the_train_part_only(loader, raw_loader):
    table = loader(seed=2)
    raw = raw_loader(scaled=False).data if raw_loader is sklearn.datasets.load_diabetes else raw_loader().data
    train_raw = raw[table.train_rows]
    mean = train_raw.mean(axis=0)
    std = train_raw.std(axis=0)
    np.testing.assert_allclose(table.test_x, (raw[table.test_rows] - mean) / std, atol=1e-12)
    np.testing.assert_allclose(table.train_x.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(table.train_x.std(axis=0), 1.0)
    # The test part is scaled with foreign statistics, so it is not exactly standard.
    assert np.abs(table.test_x.mean(axis=0)).max() > 1e-3


def test_digits_stay_images_scaled_to_the_unit_interval():
    table = datasets.load_digits(seed=0)
    raw = sklearn.datasets.load_digits()
    np.testing.assert_allclose(table.test_x, raw.images[table.test_rows] / 16.0)
    assert table.train_x.min() == 0.0 and table.train_x.max() == 1.0
    flat = table.flattened()
    assert flat.train_x.shape == (len(table.train_x), 64)
    np.testing.assert_array_equal(flat.test_x, raw.data[table.test_rows] / 16.0)
    assert flat.feature_names[9] == "pixel_1_1"
    assert table.classes == list(range(10))


def test_diabetes_targets_are_standardised_and_can_be_undone():
    table = datasets.load_diabetes(seed=0)
    target = sklearn.datasets.load_diabetes().target
    train_target = target[table.train_rows]
    assert table.target_mean == pytest.approx(train_target.mean())
    assert table.target_std == pytest.approx(train_target.std())
    np.testing.assert_allclose(table.test_y * table.target_std + table.target_mean, target[table.test_rows])
    assert table.train_y.mean() == pytest.approx(0.0, abs=1e-12)
    assert table.train_y.std() == pytest.approx(1.0)


def test_classes_name_the_labels():
    assert datasets.load_iris().classes == ["setosa", "versicolor", "virginica"]
    assert datasets.load_breast_cancer().classes == ["malignant", "benign"]
    assert datasets.load_wine().feature_names[0] == "alcohol"
