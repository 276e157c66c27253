"""Shared fixtures: every test builds its nodes in a graph of its own.

The global ``ms.default_graph`` must come out of every test as it went in, and
so must the default dtype and NumPy's global generator (which ``Variable(init=True)``
draws from), so that no test depends on the order the tests run in.
"""

import numpy as np
import pytest

import matrixslow as ms


@pytest.fixture
def graph():
    """A fresh graph that is the default while the test runs."""
    with ms.core.Graph() as fresh:
        yield fresh


@pytest.fixture(autouse=True)
def _seeded_global_generator():
    state = np.random.get_state()
    np.random.seed(0)
    yield
    np.random.set_state(state)


@pytest.fixture(autouse=True)
def _default_graph_and_dtype_untouched():
    nodes_before = ms.default_graph.node_count()
    dtype_before = ms.core.get_default_dtype()
    yield
    ms.core.set_default_dtype(dtype_before)
    assert ms.core.get_default_graph() is ms.default_graph, "a test left a 'with Graph():' block open"
    assert ms.default_graph.node_count() == nodes_before, "a test built nodes into the global default graph"
