"""The optimizer base class: accumulate per-sample gradients, then update with their mean."""

import numpy as np

from ..core.autodiff import backward
from ..core.errors import GraphError, ShapeError
from ..core.graph import Graph
from ..core.node import Node, forget_computed_from
from ..core.scope import get_trainable_variables_from_graph
from .packing import Packed

# The engine's own rules (filled in by rules.py): only they are known to treat a packed array as a variable.
PACKABLE_RULES = set()


class Optimizer:
    """Accumulates gradients over samples and batches, and applies their mean.

    Parameters
    ----------
    graph : Graph
        The graph that holds ``target``.
    target : Node
        The loss to minimise: one sample's (1x1) loss or a batch of them.
    learning_rate : float

    ``one_step()`` runs forward and backward and adds the gradients of every
    sample to ``acc_gradient`` (``acc_no`` counts the samples); ``update()``
    moves each trainable variable by the mean gradient and starts afresh. One
    sample at a time or a whole batch at once gives the same update.

    Optimizers that remember (momentum, Adam's moments) list their per-variable dicts in
    ``SLOTS`` and their update counters in ``COUNTERS``; ``state_arrays`` and
    ``load_state_arrays`` save and restore both, so a checkpointed run resumes exactly.
    """

    SLOTS = ()  # names of the {variable: array} dicts the update rule keeps
    COUNTERS = ()  # names of the int attributes that count updates

    def __init__(self, graph, target, learning_rate=0.01):
        if not isinstance(graph, Graph):
            raise TypeError(f"{type(self).__name__}: graph must be a Graph, got {type(graph).__name__}")
        if not isinstance(target, Node):
            raise TypeError(f"{type(self).__name__}: target must be a Node, got {type(target).__name__}")
        if target.graph is not graph:
            raise GraphError(
                f"{type(self).__name__}: target {target.describe()} belongs to another graph than the one given "
                "(inside 'with Graph():' pass that graph, or ms.core.get_default_graph())"
            )
        _check_positive(self, "learning_rate", learning_rate)
        self.graph = graph
        self.target = target
        self.learning_rate = learning_rate
        self.acc_gradient = {}
        self.acc_no = 0
        self._spares = {}  # scratch arrays of the in-place rules, not state: see update()
        self._packed = None  # the variables as one flat array, once updated together (see packing.py)

    def one_step(self):
        """Forward and backward on the current inputs; accumulate the gradients."""
        self.forward_backward()

    def forward_backward(self):
        gradients = backward(self.target)
        # The sums live in the packed update's flat gradient once there is one (see packing.py).
        storage = self._packed.gradient_views() if self._packed is not None else {}
        for node, gradient in gradients.items():
            accumulated = self.acc_gradient.get(node)
            if accumulated is None:
                self.acc_gradient[node] = _own_copy(gradient, storage.get(node))
            else:
                accumulated += gradient
        value = self.target.value
        self.acc_no += value.shape[0] if value.ndim == 3 else 1

    def get_gradient(self, node):
        """The mean gradient of ``node`` over the samples accumulated so far."""
        return self.acc_gradient[node] / self.acc_no

    def apply_gradients(self, node_gradients_dict, summarize=False, acc_no=None):
        """Take gradients computed elsewhere (by other workers), keyed by node or node name.

        With ``summarize`` they are sums over ``acc_no`` samples and are added to
        the accumulated ones. Without it they replace them: means by default, or,
        as in the book, sums over ``acc_no`` samples when it is given.
        """
        if summarize and acc_no is None:
            raise ValueError("apply_gradients(summarize=True) needs the positive sample count acc_no")
        if acc_no is not None and not acc_no > 0:
            raise ValueError(f"apply_gradients: acc_no must be a positive sample count, got {acc_no}")
        # Every gradient is checked before any is applied, so a bad one changes nothing.
        checked = [self._checked_gradient(key, gradient) for key, gradient in node_gradients_dict.items()]
        for node, gradient in checked:
            if summarize and node in self.acc_gradient:
                self.acc_gradient[node] += gradient
            else:
                self.acc_gradient[node] = np.array(gradient)
        if summarize:
            self.acc_no += acc_no
        else:
            self.acc_no = 1 if acc_no is None else acc_no

    def _checked_gradient(self, key, gradient):
        node = self._trainable_node(key)
        gradient = np.asarray(gradient, dtype=node.value.dtype)
        if gradient.shape != node.value.shape:
            raise ShapeError(f"gradient for {node.describe()} has shape {gradient.shape}, expected {node.value.shape}")
        return node, gradient

    def _trainable_node(self, key):
        node = key if isinstance(key, Node) else self.graph.get(key)
        if node is None:
            raise GraphError(f"apply_gradients: no node named '{key}' in the graph")
        if not getattr(node, "trainable", False):
            raise GraphError(f"apply_gradients: {node.describe()} is not a trainable Variable")
        return node

    def update(self, var_gradients=None):
        """Move every variable that has a gradient by the mean gradient, then reset the accumulation."""
        if var_gradients is not None:
            self.apply_gradients(var_gradients)
        if self.acc_no == 0:
            raise GraphError(f"{type(self).__name__}.update(): no gradients accumulated; call one_step() first")
        self.before_update()
        if not self._update_packed():
            self._update_each()
        self.acc_gradient.clear()
        self.acc_no = 0

    def _update_each(self):
        # In place: the mean is divided into the accumulated sum (skipped for one sample, as x / 1
        # is x), and each rule writes the new weights into the Variable's own array, reusing that
        # mean and one spare array per variable as scratch: past the first update an update allocates
        # nothing, and the numbers are the out-of-place formula's bit for bit. So `before = var.value` (or a slot
        # such as `optimizer.v[var]`) changes with the next update; whoever keeps a snapshot copies
        # it, as state_arrays(), the savers (bytes) and the dist trainers (flat buffers, protobufs)
        # already do. Arrays the caller handed in are never written: set_value copies them.
        if self._packed is not None:  # a rule may keep a gradient (Momentum's v): none is summed into again
            self._packed.forget_gradient()
        for node, gradient in self.acc_gradient.items():
            if self.acc_no != 1:
                np.divide(gradient, self.acc_no, out=gradient)
            node.writable_value()
            new_value = self._update_one(node, gradient)
            if new_value is None:
                node.changed_in_place()
            else:  # a rule of the older kind, which returns the new value
                node.set_value(new_value)

    def _update_packed(self):
        """The same update, all variables at once as one flat array; False where that cannot stand in."""
        if type(self)._update_one not in PACKABLE_RULES or len(self.acc_gradient) < 2:
            return False
        nodes = list(self.acc_gradient)
        slots = [getattr(self, slot) for slot in self.SLOTS]
        if self._packed is None or not self._packed.intact(nodes):
            self._forget_packed(slots)
            self._packed = Packed(nodes)
        packed = self._packed
        if not packed.sync_slots(slots):
            return False
        gradient = packed.gather(self.acc_gradient)
        if self.acc_no != 1:
            np.divide(gradient, self.acc_no, out=gradient)
        self._update_one(packed, gradient)
        packed.bind_slots(slots)
        forget_computed_from(nodes)  # each changed_in_place(), in one walk
        return True

    def _forget_packed(self, slots):
        if self._packed is not None:
            for entries in slots:
                entries.pop(self._packed, None)
            self._spares.pop(self._packed, None)

    def before_update(self):
        """Hook for state that changes once per update (Adam's step count)."""

    def state_arrays(self):
        """The optimizer's memory as ``{key: array}``: ``"slot/variable name"`` and ``"#counter"`` keys.

        A variable with no entry in a slot yet is given zeros: every rule treats a missing
        entry as zero, so restoring those zeros changes nothing.
        """
        state = {}
        for slot in self.SLOTS:
            entries = getattr(self, slot)
            for node in self._trainables():
                value = entries.get(node, np.zeros_like(node.value))
                state[f"{slot}/{node.name}"] = np.array(value, dtype=node.value.dtype)
        for counter in self.COUNTERS:
            state[f"#{counter}"] = np.array([getattr(self, counter)], dtype=np.int64)  # 1-D: .npz keeps no 0-D
        return state

    def load_state_arrays(self, state):
        """Restore what ``state_arrays`` gave (from an optimizer of the same kind on the same variables)."""
        expected = self.state_arrays()
        if set(state) != set(expected):
            missing, unknown = sorted(set(expected) - set(state)), sorted(set(state) - set(expected))
            raise GraphError(
                f"{type(self).__name__}: the optimizer state does not fit this optimizer and graph: "
                f"missing {missing}, unexpected {unknown}"
            )
        for key, value in state.items():
            if np.shape(value) != expected[key].shape:
                raise ShapeError(
                    f"{type(self).__name__}: optimizer state {key!r} has shape {np.shape(value)}, "
                    f"expected {expected[key].shape}"
                )
        for slot in self.SLOTS:
            entries = getattr(self, slot)
            for node in self._trainables():
                entries[node] = np.array(state[f"{slot}/{node.name}"], dtype=node.value.dtype)
        for counter in self.COUNTERS:
            setattr(self, counter, int(np.asarray(state[f"#{counter}"]).item()))

    def _trainables(self):
        return get_trainable_variables_from_graph(graph=self.graph)

    def _update_one(self, node, gradient):
        """Move ``node.value`` in place by the mean ``gradient`` (defined by each optimizer).

        ``gradient`` is the optimizer's own array, free to be overwritten. A rule may instead
        return the new value, which is then set.
        """
        raise NotImplementedError

    def _slot_entry(self, slot, node, like):
        """``slot[node]``, made zeros shaped like ``like`` at first: the rules read a missing entry as zero."""
        entry = slot.get(node)
        if entry is None:
            entry = slot[node] = np.zeros_like(like)
        return entry

    def _spare(self, node, like):
        """A scratch array shaped like ``like`` kept for ``node``; every update overwrites it."""
        spare = self._spares.get(node)
        if spare is None:
            spare = self._spares[node] = np.empty_like(like)
        return spare


def _own_copy(gradient, storage):
    """``gradient`` in an array of the optimizer's own (``storage`` when given), as sums are added in place."""
    if storage is None:
        return np.array(gradient)
    np.copyto(storage, gradient)
    return storage


def _check_positive(optimizer, field, value):
    if not value > 0:
        raise ValueError(f"{type(optimizer).__name__}: {field} must be positive, got {value}")


def _check_fraction(optimizer, field, value):
    if not 0.0 < value < 1.0:
        raise ValueError(f"{type(optimizer).__name__}: {field} must be between 0 and 1, got {value}")
