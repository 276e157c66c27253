"""Measure a book program of ``tests/book`` on the original MatrixSlow (a developer's tool, not a test).

The reference figures the tests assert come from here: the same function, the same
data and seed, run on the original package (zc911/MatrixSlow) instead of ours::

    python -m tests.book.measure_with_original /path/to/original/MatrixSlow test_ch04_logistic logistic_regression

NumPy 2 removed names the original uses; they are put back first, as a NumPy 2
reader of the book must (see the README, "Running the book's programs").
"""

import importlib
import sys

import numpy as np


def _restore_numpy_names():
    np.mat = np.asmatrix
    np.int = int
    np.float = float


def main(original_root, module_name, function_name, *args):
    _restore_numpy_names()
    sys.path.insert(0, original_root)
    import matrixslow

    if not matrixslow.__file__.startswith(original_root):
        raise SystemExit(f"imported {matrixslow.__file__}, not the original under {original_root}")
    module = importlib.import_module(f"tests.book.{module_name}")
    print(getattr(module, function_name)(*(eval(arg) for arg in args)))


if __name__ == "__main__":
    main(*sys.argv[1:])
