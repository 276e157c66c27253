"""Many small variables updated as one: values, gradients and optimizer state packed into flat arrays.

A rule costs a dozen NumPy calls per variable whatever its size, and the book's CNN
has a 3x3 kernel and a 1x1 bias per feature map: 36 variables, most of the update
spent calling NumPy on nine numbers. Packed, every variable's value is a view of
one flat array (and so is each slot entry, ``optimizer.v[var]`` included), so one
call of the same rule moves them all, element by element the same arithmetic.
"""

import numpy as np

from ..core.identity import each_is


class Packed:
    """The variables ``nodes``, their values moved into one flat array (each ``node.value`` a view of it)."""

    def __init__(self, nodes):
        self.nodes = list(nodes)
        sizes = [node.value.size for node in self.nodes]
        ends = np.cumsum(sizes)
        self.slices = [slice(end - size, end) for size, end in zip(sizes, ends, strict=True)]
        self.shapes = [node.value.shape for node in self.nodes]
        self.value = np.empty(int(ends[-1]), dtype=self.nodes[0].value.dtype)
        self.views = self._views_of(self.value)
        self._gradient = self._gradient_views = None
        self._slot_views = {}  # id(slot dict) -> (its flat entry, the views handed out as its per-variable entries)
        for node, view in zip(self.nodes, self.views, strict=True):
            node.adopt_storage(view)

    def _views_of(self, flat):
        return [flat[where].reshape(shape) for where, shape in zip(self.slices, self.shapes, strict=True)]

    def intact(self, nodes):
        """Still the same variables, each still holding its view (nothing set a new value since)?"""
        return nodes == self.nodes and each_is([node.value for node in self.nodes], self.views)

    def gradient_views(self):
        """{node: its view of the flat gradient}: the optimizer sums a step's gradients there, so gather copies none."""
        if self._gradient is None:
            self._gradient = np.empty_like(self.value)
            self._gradient_views = dict(zip(self.nodes, self._views_of(self._gradient), strict=True))
        return self._gradient_views

    def forget_gradient(self):
        self._gradient = self._gradient_views = None

    def gather(self, gradients):
        """The gradients of ``nodes`` as one flat array, the same array every update unless a rule kept it."""
        views = self.gradient_views()
        for node, where in zip(self.nodes, self.slices, strict=True):
            gradient = gradients[node]
            if gradient is not views[node]:  # summed elsewhere (apply_gradients, an older packing)
                self._gradient[where] = gradient.ravel()
        return self._gradient

    def sync_slots(self, slots):
        """Before a flat update: each slot's flat entry ``slot[self]`` again what the per-variable entries show.

        Someone may have replaced ``slot[var]`` (``load_state_arrays`` does); the flat
        entry is then rebuilt from them. False when some variables have an entry and
        others none, which no flat array can stand for: the caller updates one by one.
        """
        for entries in slots:
            if self._slot_in_sync(entries):
                continue
            present = [entries.get(node) for node in self.nodes]
            entries.pop(self, None)
            if all(entry is None for entry in present):
                continue
            if any(entry is None for entry in present):
                return False
            entries[self] = np.concatenate([entry.ravel() for entry in present])
            self.bind_slots([entries])
        return True

    def _slot_in_sync(self, entries):
        known = self._slot_views.get(id(entries))
        if known is None or entries.get(self) is not known[0]:
            return False
        return each_is([entries.get(node) for node in self.nodes], known[1])

    def bind_slots(self, slots):
        """After a flat update: each variable's entry in each slot is its view of the flat entry."""
        for entries in slots:
            flat = entries.get(self)
            if flat is self._gradient:  # the rule kept the gradient as its state (Momentum's first step)
                self.forget_gradient()
            known = self._slot_views.get(id(entries))
            if flat is None or (known is not None and known[0] is flat):
                continue
            views = self._views_of(flat)
            self._slot_views[id(entries)] = (flat, views)
            for node, view in zip(self.nodes, views, strict=True):
                entries[node] = view
