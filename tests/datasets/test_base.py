"""The Dataset container and the shared helpers: one_hot, standardise, split_rows."""

import numpy as np
import pytest

from matrixslow import datasets
from matrixslow.datasets import Dataset, one_hot, split_rows, standardise


def small_table(**changes):
    arguments = dict(
        train_x=np.arange(12.0).reshape(4, 3),
        train_y=np.array([0, 1, 1, 0]),
        test_x=np.ones((2, 3)),
        test_y=np.array([1, 0]),
        feature_names=["a=x", "a=y", "b"],
        classes=["no", "yes"],
        task="binary",
        name="small",
        fields={"a": [0, 1], "b": [2]},
    )
    arguments.update(changes)
    return Dataset(**arguments)


class TestOneHot:
    def test_int_labels_put_a_one_in_their_column(self):
        np.testing.assert_array_equal(one_hot([2, 0, 1, 2], 3), [[0, 0, 1], [1, 0, 0], [0, 1, 0], [0, 0, 1]])

    def test_class_values_are_matched_in_column_order(self):
        encoded = one_hot(np.array(["3rd", "1st", "3rd"], dtype=object), ["1st", "2nd", "3rd"])
        np.testing.assert_array_equal(encoded, [[0, 0, 1], [1, 0, 0], [0, 0, 1]])
        assert encoded.dtype == np.float64

    def test_labels_outside_the_classes_are_named(self):
        with pytest.raises(ValueError, match="4th"):
            one_hot(["1st", "4th"], ["1st", "2nd", "3rd"])
        with pytest.raises(ValueError, match=r"0\.\.2"):
            one_hot([0, 3], 3)


class TestStandardise:
    def test_uses_the_train_statistics_for_both_parts(self):
        rng = np.random.default_rng(1)
        train, test = rng.normal(5.0, 3.0, (50, 4)), rng.normal(5.0, 3.0, (20, 4))
        train_scaled, test_scaled, mean, std = standardise(train, test)
        for column in range(4):
            centre = sum(train[:, column]) / 50
            spread = np.sqrt(sum((train[:, column] - centre) ** 2) / 50)
            np.testing.assert_allclose(test_scaled[:, column], (test[:, column] - centre) / spread)
            np.testing.assert_allclose([mean[column], std[column]], [centre, spread])
        np.testing.assert_allclose(train_scaled.mean(axis=0), 0.0, atol=1e-12)
        np.testing.assert_allclose(train_scaled.std(axis=0), 1.0)

    def test_a_constant_column_is_centred_not_divided_by_zero(self):
        train_scaled, test_scaled, _, _ = standardise(np.full((5, 1), 7.0), np.array([[8.0]]))
        np.testing.assert_array_equal(train_scaled, 0.0)
        np.testing.assert_array_equal(test_scaled, [[1.0]])


class TestSplitRows:
    def test_parts_are_disjoint_cover_every_row_and_keep_class_proportions(self):
        labels = np.array([0] * 60 + [1] * 40)
        train_rows, test_rows = split_rows(100, 0.25, 3, labels, "test")
        np.testing.assert_array_equal(np.sort(np.concatenate([train_rows, test_rows])), np.arange(100))
        assert len(test_rows) == 25
        assert labels[test_rows].sum() == 10  # 40% of 25

    def test_same_seed_same_split_other_seed_other_split(self):
        first = split_rows(100, 0.25, 3, None, "test")
        again = split_rows(100, 0.25, 3, None, "test")
        other = split_rows(100, 0.25, 4, None, "test")
        np.testing.assert_array_equal(first[1], again[1])
        assert set(first[1]) != set(other[1])


class TestDataset:
    def test_converts_x_to_float64_and_labels_to_int(self):
        table = small_table(train_x=np.arange(12).reshape(4, 3), train_y=np.array([0.0, 1.0, 1.0, 0.0]))
        assert table.train_x.dtype == np.float64
        assert table.train_y.dtype == np.int64
        assert table.num_classes == 2
        assert table.sample_shape == (3,)

    def test_split_fields_cuts_the_columns_of_each_field(self):
        table = small_table()
        blocks = table.split_fields(table.train_x)
        assert list(blocks) == ["a", "b"]
        np.testing.assert_array_equal(blocks["a"], [[0, 1], [3, 4], [6, 7], [9, 10]])
        np.testing.assert_array_equal(blocks["b"], [[2], [5], [8], [11]])

    def test_split_fields_rejects_rows_of_the_wrong_width_and_tables_without_fields(self):
        with pytest.raises(ValueError, match=r"small.*\(N, 3\)"):
            small_table().split_fields(np.ones((2, 4)))
        with pytest.raises(ValueError, match="has no fields"):
            small_table(fields=None).split_fields(np.ones((2, 3)))

    def test_flattened_turns_images_into_rows(self):
        images = np.arange(2 * 3 * 4.0).reshape(2, 3, 4)
        names = ["c0", "c1", "c2", "c3"]
        table = small_table(
            train_x=images, train_y=[0, 1], test_x=images, test_y=[1, 0], fields=None, feature_names=names
        )
        flat = table.flattened()
        assert flat.train_x.shape == (2, 12)
        np.testing.assert_array_equal(flat.train_x[1], np.arange(12.0, 24.0))
        assert flat.feature_names[:5] == ["c0[0]", "c1[0]", "c2[0]", "c3[0]", "c0[1]"]
        assert table.train_x.shape == (2, 3, 4)  # the original is untouched

    @pytest.mark.parametrize(
        "changes, message",
        [
            (dict(task="ranking"), "task must be one of"),
            (dict(train_y=np.array([0, 1, 1])), r"train_x must have shape \(N, ...\) with N = len\(train_y\) = 3"),
            (dict(test_x=np.array([[1.0, np.nan, 0.0], [0.0, 0.0, 0.0]])), "test part holds NaN"),
            (dict(train_y=np.array([0, 1, 2, 0])), r"int labels 0\.\.1"),
            (dict(test_x=np.ones((2, 4))), "differ in shape"),
            (dict(fields={"a": [0, 1]}), r"cover every column 0\.\.2"),
            (dict(classes=None), "needs its list of classes"),
            (dict(feature_names=["a", "b"]), "2 feature names for 3 columns"),
        ],
    )
    def test_inconsistent_parts_are_refused_with_the_dataset_named(self, changes, message):
        with pytest.raises(ValueError, match=message) as caught:
            small_table(**changes)
        assert "small" in str(caught.value)


def test_every_loader_is_exported():
    loaders = {name for name in datasets.__all__ if name.startswith("load_")}
    assert loaders == {
        "load_iris",
        "load_wine",
        "load_breast_cancer",
        "load_digits",
        "load_diabetes",
        "load_titanic",
        "load_movielens_clicks",
        "load_sine_square",
    }
    for loader in loaders:
        assert f"``{loader}``" in datasets.__doc__, f"{loader} is missing from the table in datasets/__init__.py"
