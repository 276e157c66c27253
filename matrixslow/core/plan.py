"""The compiled execution plan: a static graph's walk, done once and replayed every step.

The interpreter (``autodiff``) decides everything on every call: the order, which
nodes lie between the target and the variables, which gradients are summed over
the batch. For a static graph the answers never change, so a plan records them
once per (target, variables, input shapes) and each step then only runs the
operators, fused where the book's graph is wide (``fusion``). The interpreter
runs the first step of every new shape, so every error a bad input raises is the
interpreter's own, and a plan only ever replays a walk that succeeded.

``MATRIXSLOW_INTERPRETER=1`` in the environment, or ``graph.compiled = False``,
runs the interpreter alone: the readable reference, and the other half of the
tests that run both ways.
"""

import os

import numpy as np

from .batching import sum_over_batch
from .fusion import find_groups, group_read

INTERPRETER_VARIABLE = "MATRIXSLOW_INTERPRETER"


def compiled_by_default():
    """False when the environment asks for the interpreter (``MATRIXSLOW_INTERPRETER`` set and not "0")."""
    return os.environ.get(INTERPRETER_VARIABLE, "0") in ("", "0")


class Plan:
    """The work of one (target, wrt) for one family of input shapes; see the module docstring.

    Built from a graph whose values the interpreter has just computed, so that
    every shape is known.
    """

    def __init__(self, target, wrt, order, on_path):
        self.target = target
        self.wrt = wrt
        groups = find_groups(order)
        grouped = {member: group for group in groups for member in group.members}
        position = {node: index for index, node in enumerate(order)}
        for group in groups:
            group.position = min(position[member] for member in group.members)
        # A group runs where its first member stood: every parent of every member is computed by then
        # (shared parents precede all members, parent groups run at their own first member), and, walking
        # back, every child of every member has passed its gradient on.
        # A forward step is (node, run): run computes node's value when it has none, by the operator's
        # replay() (its compute() without the shape checks its first walk passed, see ops/base.py) or
        # compute(); node is None where run is fused (a Group, or a GroupRead: a node that reads a whole
        # group at once, see fusion.py), which always runs. A backward step is (node, fused, edges).
        self.forward_steps, self.backward_steps = [], []
        for node in order:
            group = grouped.get(node)
            if group is not None:
                if group.position == position[node]:
                    self.forward_steps.append((None, group.forward))
            elif node.parents:
                reader = group_read(node, grouped)
                if reader is not None:
                    self.forward_steps.append((None, reader.forward))
                else:
                    self.forward_steps.append((node, getattr(node, "replay", None) or node.compute))
        for node in reversed(order):
            group = grouped.get(node)
            if group is not None:
                if group.position == position[node] and any(m in on_path for m in group.members):
                    self.backward_steps.append((node, group, None))
            elif node in on_path and node.parents:
                reader = group_read(node, grouped)
                # (slot, parent, parent's ndim): a per-sample gradient of a shared (2-D) parent is summed here
                edges = [(i, p, p.value.ndim) for i, p in enumerate(node.parents) if p in on_path]
                self.backward_steps.append((node, reader, edges))
        # Variables last: a group's later kernels stand after its first member in the order, yet get
        # their gradients only when the whole group runs.
        self.backward_steps += [(node, None, []) for node in reversed(order) if node in on_path and not node.parents]
        self.on_path = on_path
        self.off_path = [node for node in order if node not in on_path]
        self.groups = groups
        self._ones = None

    def ones_seed(self):
        """The default seed, ones of the target's shape: made once, read-only, as no step may change it."""
        value = self.target.value
        if self._ones is None or self._ones.shape != value.shape or self._ones.dtype != value.dtype:
            self._ones = np.ones(value.shape, value.dtype)
            self._ones.flags.writeable = False
        return self._ones

    def forward(self):
        for node, run in self.forward_steps:
            if node is None or node.value is None:
                run()

    def backward(self, seed, clear):
        """The interpreter's ``backward`` (same gradients, same ``node.grad``), replayed after ``forward``."""
        grads, stacked_grads = {self.target: seed}, {}
        for node, fused, edges in self.backward_steps:
            if fused is not None:
                fused.backward(grads, self.on_path, stacked_grads, clear)
                continue
            grad = grads.get(node)
            if grad is None:
                if clear:
                    node.grad = None
                continue
            node.grad = grad
            for index, parent, parent_ndim in edges:
                parent_grad = node.vjp(index, grad)
                if parent_grad.ndim != parent_ndim:  # a shared parent: the sum over the batch
                    parent_grad = sum_over_batch(parent_grad)
                previous = grads.get(parent)
                # A new array, never "+=": an operator may hand the same array to several parents.
                grads[parent] = parent_grad if previous is None else previous + parent_grad
        if clear:
            for node in self.off_path:
                node.grad = None
        return {node: grads[node] if node in grads else np.zeros_like(node.value) for node in self.wrt}


class PlanCache:
    """A graph's plans: per (target, wrt), one per tuple of leaf shapes. Emptied when the structure changes.

    At most ``PLANS_PER_TARGET`` per target are kept, the oldest dropped first, so that a
    program feeding ever new shapes (batches of every size) does not keep a plan for each.
    """

    PLANS_PER_TARGET = 8

    def __init__(self):
        self._entries = {}

    def clear(self):
        self._entries.clear()

    def leaves(self, target, order):
        entry = self._entries.get(target)
        if entry is None:
            entry = self._entries[target] = ([node for node in order if not node.parents], {})
        return entry

    def lookup(self, target, wrt_key, order):
        """The plan for the current leaf shapes (None until the interpreter has run them once), and its key."""
        leaves, plans = self.leaves(target, order)
        shapes = tuple([None if leaf.value is None else leaf.value.shape for leaf in leaves])  # a list: faster
        key = (wrt_key, shapes)
        return plans.get(key), key

    def store(self, target, key, plan):
        plans = self._entries[target][1]
        if len(plans) >= self.PLANS_PER_TARGET:
            del plans[next(iter(plans))]
        plans[key] = plan
