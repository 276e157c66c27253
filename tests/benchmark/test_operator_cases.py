"""The operator benchmark covers every operator, and each case really runs forward and backward."""

import numpy as np
import pytest

from benchmark import operator_cases
from reference_checks.operator_cases import CASES as GRADIENT_CHECKED_OPERATORS


def test_every_gradient_checked_operator_is_benchmarked():
    assert set(operator_cases.BUILDS) == set(GRADIENT_CHECKED_OPERATORS)


@pytest.mark.parametrize("case", operator_cases.cases([4]), ids=lambda case: case.name)
def test_case_gives_a_gradient_for_every_input(case):
    _, target, inputs = case.build()
    run = operator_cases.forward_backward(target, inputs)
    first = run()
    assert target.value is not None and target.value.shape[0] == operator_cases.BATCH
    assert set(first) == set(inputs)
    for variable in inputs:
        assert first[variable].shape == variable.value.shape
    second = run()  # a repeated run recomputes the same values: nothing accumulates across calls
    for variable in inputs:
        np.testing.assert_array_equal(second[variable], first[variable])
