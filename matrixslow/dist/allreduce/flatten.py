"""All gradients in one flat buffer, so the ring moves one array instead of one per variable."""

from typing import NamedTuple

import numpy as np


class Slot(NamedTuple):
    """Where one named array lives in the flat buffer."""

    name: str
    shape: tuple
    start: int
    stop: int


def flatten_arrays(arrays, dtype=None):
    """Concatenate a ``{name: array}`` dict into one 1-D buffer, in sorted name order.

    Sorting the names is what makes every worker lay its gradients out identically,
    whatever order its dict was built in.

    Parameters
    ----------
    arrays : dict of str to array_like
    dtype : dtype, optional
        Dtype of the buffer; by default the common dtype of the arrays (float64 for an empty dict).

    Returns
    -------
    buffer : numpy.ndarray
        1-D, a new array.
    layout : tuple of Slot
        What ``unflatten_arrays`` needs to cut the buffer back into named arrays.
    """
    names = sorted(arrays)
    values = [np.asarray(arrays[name]) for name in names]
    if dtype is None:
        dtype = np.result_type(*values) if values else np.float64
    layout = []
    start = 0
    for name, value in zip(names, values, strict=True):
        layout.append(Slot(name, value.shape, start, start + value.size))
        start += value.size
    buffer = np.empty(start, dtype=dtype)
    for slot, value in zip(layout, values, strict=True):
        buffer[slot.start : slot.stop] = value.reshape(-1)
    return buffer, tuple(layout)


def unflatten_arrays(buffer, layout):
    """Cut a flat buffer back into the ``{name: array}`` dict that ``flatten_arrays`` laid out.

    Returns
    -------
    dict of str to numpy.ndarray
        Copies, each in its original shape.
    """
    buffer = np.asarray(buffer)
    expected = layout[-1].stop if layout else 0
    if buffer.ndim != 1 or buffer.size != expected:
        raise ValueError(
            f"flat buffer of shape {buffer.shape} does not match the layout: expected a 1-D buffer of "
            f"{expected} elements for {[slot.name for slot in layout]}"
        )
    return {slot.name: buffer[slot.start : slot.stop].reshape(slot.shape).copy() for slot in layout}
