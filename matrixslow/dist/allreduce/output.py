"""The ``out`` array an allreduce may write its sum into, instead of a new array."""

import numpy as np


def checked_out(out, buffer, who):
    """``out`` as given once it is checked to hold ``buffer``'s sum; ``None`` stays ``None``.

    Why pass one: a new result every call is fresh memory, and above 32 MB the C allocator takes
    it straight from the kernel, which zero-fills it page by page on first write (about 3.5 ms per
    64 MiB on the 2-core test machine). An array kept from step to step pays that once, and
    ``out=buffer`` (the sum replaces the input) needs no second array at all.

    Raises
    ------
    TypeError, ValueError
        Naming ``who`` and what ``out`` must be: a writeable, C-contiguous NumPy array of
        ``buffer``'s shape and dtype.
    """
    if out is None:
        return None
    expected = f"a writeable C-contiguous numpy array of shape {buffer.shape} and dtype {buffer.dtype.name}"
    if not isinstance(out, np.ndarray):
        raise TypeError(f"{who}: out must be {expected}, got {type(out).__name__}")
    if out.shape != buffer.shape or out.dtype != buffer.dtype or not (out.flags.c_contiguous and out.flags.writeable):
        layout = "C-contiguous" if out.flags.c_contiguous else "not C-contiguous"
        access = "writeable" if out.flags.writeable else "read-only"
        raise ValueError(
            f"{who}: out must be {expected}; got shape {out.shape}, dtype {out.dtype.name}, {layout}, {access}"
        )
    return out
