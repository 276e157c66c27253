"""Assemble a field-structured table (one-hot groups and numeric columns) block by block."""

import numpy as np


class FieldColumns:
    """The columns of a table built field by field, for train and test at once.

    ``add`` appends one field's block of columns; ``fields`` then maps every field to
    its column indices, in the order they were added.
    """

    def __init__(self, dataset):
        self.dataset = dataset
        self.names = []
        self.fields = {}
        self._train_blocks = []
        self._test_blocks = []

    def add(self, field, names, train_block, test_block):
        """Append field ``field`` with columns ``names``; the blocks are (N, len(names)) or (N,)."""
        train_block = _as_block(train_block)
        test_block = _as_block(test_block)
        if field in self.fields:
            raise ValueError(f"dataset {self.dataset!r}: field {field!r} added twice")
        if train_block.shape[1] != len(names) or test_block.shape[1] != len(names):
            raise ValueError(
                f"dataset {self.dataset!r}: field {field!r} has {len(names)} column names but blocks of shape "
                f"{train_block.shape} (train) and {test_block.shape} (test)"
            )
        start = len(self.names)
        self.names.extend(names)
        self.fields[field] = list(range(start, len(self.names)))
        self._train_blocks.append(train_block)
        self._test_blocks.append(test_block)

    def train_x(self):
        return np.hstack(self._train_blocks)

    def test_x(self):
        return np.hstack(self._test_blocks)


def _as_block(values):
    block = np.asarray(values, dtype=np.float64)
    return block[:, None] if block.ndim == 1 else block
