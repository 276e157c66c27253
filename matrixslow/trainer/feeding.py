"""Checking that input arrays agree on their sample count, and cutting them into batches."""

import numpy as np

from ..core.errors import ShapeError


def sample_count(arrays, what):
    """The common number of samples of ``arrays`` (a dict of name -> array), checked."""
    counts = {name: len(array) for name, array in arrays.items()}
    if len(set(counts.values())) != 1:
        raise ShapeError(f"{what}: every array needs the same number of samples, got {counts}")
    return next(iter(counts.values()))


def batches(count, batch_size, rng=None):
    """Index arrays of at most ``batch_size`` samples covering ``count``; shuffled when ``rng`` is given."""
    order = rng.permutation(count) if rng is not None else np.arange(count)
    return [order[start : start + batch_size] for start in range(0, count, batch_size)]


class PreparedInputs(list):
    """Input arrays already shaped into batches, one per input node in the trainer's order.

    ``Trainer.train`` and ``eval`` take either the book's ``{name: samples}`` dict or
    these (what ``main_loop`` passes on, so that subclasses overriding them see one form).
    """
