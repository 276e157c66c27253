"""The book's programs build into the global ``ms.default_graph``, as the book does.

Each test starts from the default graph as it found it and leaves it so, resetting
it the book's way (``nodes.clear()``), which is itself part of what these tests check.
"""

import warnings

import pytest

import matrixslow as ms


@pytest.fixture(autouse=True)
def _book_default_graph():
    nodes_before = list(ms.default_graph.nodes)
    yield
    ms.default_graph.nodes.clear()
    ms.default_graph.nodes.extend(nodes_before)


@pytest.fixture(autouse=True)
def _book_matrices_are_expected():
    """The book's programs build np.matrix columns (``np.asmatrix``); NumPy's advice against them is noise here."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        yield
