"""Where each part of a ring segment lies in the flat buffer."""

from typing import NamedTuple


class Part(NamedTuple):
    """One part of a segment: what one ``Chunk`` message carries."""

    index: int  # position of this part in its segment
    count: int  # number of parts of the segment
    offset: int  # first element of the part, counted from the start of the segment
    elements: slice  # the part's elements in the flat buffer

    @property
    def size(self):
        return self.elements.stop - self.elements.start


def segment_parts(bounds, segment, per_part):
    """Cut ``segment`` into parts of at most ``per_part`` elements.

    Parameters
    ----------
    bounds : sequence of int
        ``bounds[j]`` and ``bounds[j + 1]`` are the first and the past-the-end element of segment ``j``.
    segment : int
    per_part : int
        Most elements in one part (at least 1).

    Returns
    -------
    list of Part
        In order; an empty segment gives one empty part, so that its ring step still happens.
    """
    start, stop = int(bounds[segment]), int(bounds[segment + 1])
    firsts = range(start, max(stop, start + 1), per_part)
    return [
        Part(index, len(firsts), first - start, slice(first, min(first + per_part, stop)))
        for index, first in enumerate(firsts)
    ]
