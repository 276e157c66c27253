"""The book-loop benchmark's two ways compute the same thing, and differ only in the values' type."""

import numpy as np
import pytest

import matrixslow as ms
from benchmark import book_loops
from matrixslow.core.book_value import BookValue


@pytest.mark.parametrize("loop", list(book_loops.LOOPS))
def test_both_ways_compute_the_same(loop):
    run = book_loops.LOOPS[loop]()
    book, plain = run(book_loops.book_forward), run(book_loops.plain_forward)
    for ours, theirs in zip(book, plain, strict=True):
        np.testing.assert_array_equal(ours, theirs)
    assert np.any(np.asarray(book[0]) != 0)


def test_only_the_book_forward_leaves_book_values():
    with ms.core.Graph():
        x = ms.core.Variable(dim=(2, 1), init=False, trainable=False)
        x.set_value(np.ones((2, 1)))
        doubled = ms.ops.Add(x, x)
        assert type(book_loops.plain_forward(doubled)) is np.ndarray
        doubled.reset_value()
        assert isinstance(book_loops.book_forward(doubled), BookValue)
