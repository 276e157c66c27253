"""How big a benchmark run is: full, quick (``--quick``) or tiny (``--tiny``, the CI smoke run).

``benchmark/conftest.py`` turns the options into environment variables before any benchmark module
is imported, so module-level case lists can depend on them, and so that worker processes started by
a case see the same level. Running a file directly with ``MATRIXSLOW_BENCH_QUICK=1`` works too.
"""

import os

QUICK_VARIABLE = "MATRIXSLOW_BENCH_QUICK"
TINY_VARIABLE = "MATRIXSLOW_BENCH_TINY"


def _is_set(variable):
    return os.environ.get(variable, "") not in ("", "0")


TINY = _is_set(TINY_VARIABLE)
QUICK = TINY or _is_set(QUICK_VARIABLE)
LEVEL = "tiny" if TINY else "quick" if QUICK else "full"


def pick(full, quick, tiny=None):
    """The value for this run's level; ``tiny`` defaults to ``quick``."""
    if TINY:
        return quick if tiny is None else tiny
    return quick if QUICK else full
