"""NumPy dtype names, looked up once: ``numpy.dtype.name`` is computed in Python on every access.

A few microseconds each, but a step names every variable's dtype several times on each side
(cutting it into parts, putting it back, checking it against the server's): for a small model
that was a tenth of the step.
"""

_NAMES = {}


def dtype_name(dtype):
    """``dtype.name`` (``"float64"``), cached by dtype."""
    try:
        return _NAMES[dtype]
    except KeyError:
        _NAMES[dtype] = name = dtype.name
        return name
