"""The value ``Node.forward()`` hands back: a plain ndarray that also answers the book's ``.A`` and ``.A1``."""

import numpy as np


class BookValue(np.ndarray):
    """An ndarray with np.matrix's read-only views ``.A`` (the array) and ``.A1`` (flattened).

    The book's values were np.matrix, and its programs read ``predict.value.A``.
    Only the user's own ``forward()`` call wraps values in this subclass (a view per
    node, no copy), and arithmetic on them gives plain arrays again: the engine's
    arrays stay plain, because NumPy calls on a subclass pay for wrapping every
    result, which would slow every step if it spread into the weights.
    """

    def __array_wrap__(self, array, context=None, return_scalar=False):
        # Called by every ufunc with a BookValue input: hand back a plain result.
        result = super().__array_wrap__(array, context, return_scalar)
        return result.view(np.ndarray) if isinstance(result, BookValue) else result

    @property
    def A(self):
        return self.view(np.ndarray)

    @property
    def A1(self):
        return self.view(np.ndarray).ravel()

    def getA(self):
        return self.A

    def getA1(self):
        return self.A1
