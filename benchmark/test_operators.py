"""Forward + backward of every operator and loss at two sizes (batch of 32 n x n matrices, n = 8 and 64).

Each case recomputes the operator's value and its gradient to every input (``operator_cases``).
"""

import pytest

from .operator_cases import BATCH, cases, forward_backward
from .settings import pick
from .timing import measure

SIZES = pick((8, 64), (8, 64), tiny=(4,))


@pytest.mark.parametrize("case", cases(SIZES), ids=lambda case: f"{case.name}-{case.size}x{case.size}")
def test_operator_forward_backward(benchmark, case):
    benchmark.group = f"operator[{case.size}x{case.size}]"
    benchmark.extra_info.update(kind="operator", operator=case.name, size=case.size, batch=BATCH, engine="matrixslow")
    _, target, inputs = case.build()
    median = measure(benchmark, forward_backward(target, inputs))
    benchmark.extra_info["elements_per_second"] = BATCH * case.size * case.size / median
