"""Each operator's backward agrees with central differences of its own forward, for every parent."""

import numpy as np
import pytest

import matrixslow as ms
from tests.ops.cases import CASES
from tests.ops.test_values import build
from tests.support import numerical_gradient


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_gradient_of_every_parent_matches_central_differences(graph, case):
    rng = np.random.default_rng(2)
    parents, node = build(case, case.values(rng))
    seed = rng.normal(0.0, 1.0, node.forward().shape)  # d(final)/d(node): weights every output element

    def weighted_output():
        graph.reset_value()
        return float(np.sum(seed * node.forward()))

    grads = ms.core.backward(node, wrt=parents, seed=seed)
    for index, parent in enumerate(parents):
        expected = numerical_gradient(weighted_output, parent.value)
        assert grads[parent].shape == parent.value.shape
        np.testing.assert_allclose(grads[parent], expected, rtol=1e-5, atol=1e-7, err_msg=f"parent {index}")
