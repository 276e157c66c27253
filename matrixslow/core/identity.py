"""Object identity across two lists: is each item the very object at its place in the other?

The plan and the packed optimizer ask this on every step (are the members' values still the
group's rows, are the variables still holding their views), so it is a plain loop: all() over a
generator costs a frame per call, a third of the time on the few items these lists hold.
"""


def each_is(items, others):
    """True when ``items[i] is others[i]`` for every i (the two of equal length)."""
    for item, other in zip(items, others, strict=True):  # noqa: SIM110 (the loop is the point)
        if item is not other:
            return False
    return True
