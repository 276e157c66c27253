"""Parallel branches computed as one: the plan's fusion of the book's per-kernel nodes.

The book builds a convolution layer kernel by kernel: for every kernel a Convolve,
an Add, a bias ScalarMultiply, an Add and an activation, then a MaxPooling each.
Those nodes are parallel: the same operator with the same settings, reading slot by
slot either one shared node (the input image), a Variable of one shape per branch
(each kernel, each bias; an RNN's input at each time step) or the matching node of a
branch already fused. Such
a group is computed once on stacked arrays, axis 0 being the branch, by the
operator's own ``compute``/``vjp`` (or a faster stacked kernel the operator
registers, such as im2col for Convolve); each member's value and gradient is then
its row of the stacked one, a view, so the book's ``node.value`` and ``jacobi``
read as before.
"""

import copy

import numpy as np

from .identity import each_is

# operator type -> stacked kernel (see ops/stacked.py); only these types are fused.
STACKED_KERNELS = {}
# operator type -> reader of a whole group (Concat of every member of one group, in order)
GROUP_READERS = {}

SHARED, STACKED_LEAVES, STACKED_GROUP = "shared", "leaves", "group"

# Fusion pays where a node's Python overhead rivals its arithmetic: small batches. A stacked value
# (and its kernel's temporaries: im2col columns, pooling windows) is the branches' values at once, so
# groups larger than this stay unfused, and a large batch needs no more memory than the interpreter's.
FUSED_BYTES_LIMIT = 4 * 2**20


def register_stacked_kernel(operator_type, kernel):
    STACKED_KERNELS[operator_type] = kernel


def register_group_reader(operator_type, reader):
    GROUP_READERS[operator_type] = reader


def find_groups(order):
    """The fusable groups among ``order`` (a topological order with values computed), parents first."""
    groups, group_of = [], {}
    while True:
        candidates = {}
        for node in order:
            if node in group_of or type(node) not in STACKED_KERNELS or not node.parents:
                continue
            key, index = _branch_key(node, group_of)
            if key is not None:
                candidates.setdefault(key, []).append((index, node))
        formed, unformed = [], []
        for key, members in candidates.items():
            group = _group(key, members)
            if group is not None:
                formed.append(group)
            else:
                unformed += [node for _, node in members]
        # Nodes that read a group but not one per branch (the book's second conv layer: every kernel
        # convolves every map of the first) may still be parallel around each parent they share.
        shared_candidates = {}
        for node in unformed:
            key, _ = _branch_key(node, group_of, groups_as_shared=True)
            if key is not None:
                shared_candidates.setdefault(key, []).append((0, node))
        formed += [group for key, members in shared_candidates.items() if (group := _group(key, members)) is not None]
        if not formed:
            return groups
        for group in formed:
            groups.append(group)
            for index, member in enumerate(group.members):
                group_of[member] = (group, index)


def _branch_key(node, group_of, groups_as_shared=False):
    """What a node's branch-mates share: (operator, settings, slot kinds), and its branch index."""
    slots, index, stacked = [], None, False
    for parent in node.parents:
        if parent in group_of and not groups_as_shared:
            parent_group, parent_index = group_of[parent]
            if index is not None and parent_index != index:
                return None, None
            index = parent_index
            slots.append((STACKED_GROUP, parent_group))
            stacked = True
        elif not parent.parents:  # a Variable: one per branch (a kernel, an RNN's input step) or shared by all
            slots.append((STACKED_LEAVES, parent.value.shape))
            stacked = True
        else:
            slots.append((SHARED, parent))
    if not stacked:  # every slot shared: the members would all compute the same thing
        return None, None
    return (type(node), repr(sorted(node.kargs.items())), node.value.shape, tuple(slots)), index


def _group(key, members):
    slots = key[3]
    sizes = {group.size for kind, group in slots if kind == STACKED_GROUP}
    if len(sizes) > 1:
        return None  # branches of groups of different sizes: the branch axes would not line up
    if sizes:
        if sorted(index for index, _ in members) != list(range(sizes.pop())):
            return None  # not one member per branch of the group it reads
        members = sorted(members, key=lambda pair: pair[0])
    if len(members) < 2 or len(members) * members[0][1].value.nbytes > FUSED_BYTES_LIMIT:
        return None
    slots = list(slots)
    for slot, (kind, _) in enumerate(slots):
        parents = {node.parents[slot] for _, node in members}
        if kind == STACKED_LEAVES and len(parents) == 1:
            slots[slot] = (SHARED, parents.pop())  # the same Variable for every branch (a weight, the ones)
    if not any(kind != SHARED for kind, _ in slots):
        return None
    if not STACKED_KERNELS[key[0]].accepts([kind for kind, _ in slots]):
        return None
    return Group([node for _, node in members], slots)


class Group:
    """Parallel nodes computed together; see the module docstring."""

    def __init__(self, members, slots):
        self.members = members
        self.size = len(members)
        self.slot_kinds = [kind for kind, _ in slots]
        self.parent_groups = {slot: group for slot, (kind, group) in enumerate(slots) if kind == STACKED_GROUP}
        self.kernel = STACKED_KERNELS[type(members[0])]
        self.position = None  # set by the plan: where in the order the group runs
        self.value = None  # the stacked value; members[i].value is self.value[i]
        self._views = None
        self.saved = {}
        # The first member stands in for all: a detached copy whose parents hold the stacked arrays.
        self.proxy = copy.copy(members[0])
        self._slot_parents = [[member.parents[slot] for member in members] for slot in range(len(slots))]
        self._slots_back_for = self._slots_back_list = None
        ranks = [parent.value.ndim for parent in members[0].parents]
        self.rank = max(ranks)  # stacked slots are padded to it, so they broadcast like the members' values
        # How each slot's value is read, decided once (shapes are fixed for a plan): (kind, where, shape to
        # pad to, or None when the stacked array already has the group's rank).
        self._slot_reads = []
        for slot, kind in enumerate(self.slot_kinds):
            parent = members[0].parents[slot]
            if kind == SHARED:
                self._slot_reads.append((kind, parent, None))
                continue
            missing = self.rank - parent.value.ndim
            shape = (self.size,) + (1,) * missing + parent.value.shape if missing else None
            where = self.parent_groups[slot] if kind == STACKED_GROUP else self._slot_parents[slot]
            self._slot_reads.append((kind, where, shape))

    def parents_in_slot(self, slot):
        return self._slot_parents[slot]

    def fresh(self):
        """Do the members still hold the rows of this group's last value (nobody recomputed or reset them)?"""
        return self._views is not None and each_is([member.value for member in self.members], self._views)

    def forward(self):
        if self.fresh():
            return
        # Last step's arrays go before this step's are made, so that a step holds one set at a time.
        self.value = self._views = None
        self.proxy.value, self.proxy.parents = None, []
        self.saved = {}  # what the stacked kernel keeps from forward for vjp
        self.value = self.kernel.forward(self, self._stacked_parent_values())
        self._views = list(self.value)
        for member, view in zip(self.members, self._views, strict=True):
            member.value = view

    def _stacked_parent_values(self):
        values = []
        for kind, where, shape in self._slot_reads:
            if kind == SHARED:
                values.append(where.value)
                continue
            # A parent group's value is already stacked, no copy: it ran earlier in this same plan walk, so its
            # members hold its rows (a group's forward leaves it fresh, and no step between changes them).
            # Leaves are stacked by np.array, which is np.stack of same-shaped arrays at a quarter of its overhead.
            stacked = where.value if kind == STACKED_GROUP else np.array([parent.value for parent in where])
            values.append(stacked if shape is None else stacked.reshape(shape))
        return values

    def backward(self, grads, on_path, stacked_grads, clear):
        """Backprop the members' gradients (from ``grads``) into their parents' entries of ``grads``."""
        parts = [grads.get(member) for member in self.members]
        # The group that read this one may have handed over its gradient stacked: used as it is when every
        # member's entry is still its row (nothing else added to them), else the rows are stacked again.
        sent = stacked_grads.get(self)
        if sent is not None and each_is(parts, sent[1]):
            grad = sent[0]
        elif all(part is None for part in parts):
            return
        else:
            grad = np.array(
                [np.zeros_like(m.value) if p is None else p for m, p in zip(self.members, parts, strict=True)]
            )
        for member, part in zip(self.members, parts, strict=True):
            if part is not None or clear:  # as the interpreter: without clear, an old gradient stays
                member.grad = part
        for slot, kind, parents, wanted in self._slots_back(on_path):
            if kind == SHARED:
                _add(grads, parents[0], _summed_to(self.kernel.vjp(self, slot, grad), parents[0].value.ndim))
                continue
            parent_grad = self._unstacked(self.kernel.vjp(self, slot, grad), parents[0].value.shape)
            rows = list(parent_grad)
            for parent, row, is_wanted in zip(parents, rows, wanted, strict=True):
                if is_wanted:
                    _add(grads, parent, row)
            if kind == STACKED_GROUP:
                stacked_grads[self.parent_groups[slot]] = (parent_grad, rows)

    def _slots_back(self, on_path):
        """The slots a gradient flows back through: (slot, kind, parents, which parents want it), once per plan."""
        if self._slots_back_for is not on_path:
            self._slots_back_for, self._slots_back_list = on_path, []
            for slot, kind in enumerate(self.slot_kinds):
                parents = self._slot_parents[slot]
                wanted = [parent in on_path for parent in parents]
                if any(wanted):
                    self._slots_back_list.append((slot, kind, parents, wanted))
        return self._slots_back_list

    def _unstacked(self, grad, member_shape):
        """A stacked slot's gradient (n, ..., *broadcast shape) summed back to (n, *member_shape)."""
        extra = grad.ndim - 1 - len(member_shape)
        if extra:
            grad = grad.sum(axis=tuple(range(1, 1 + extra)))
        return grad.reshape((self.size, *member_shape)) if grad.shape[1:] != member_shape else grad


def _summed_to(grad, ndim):
    """A shared parent's gradient summed over the branch axis (and the batch, for a shared 2-D value)."""
    return grad.sum(axis=tuple(range(grad.ndim - ndim))) if grad.ndim > ndim else grad


def _add(grads, node, grad):
    previous = grads.get(node)
    # A new array, never "+=": a gradient may be a view of another node's.
    grads[node] = grad if previous is None else previous + grad


def group_read(node, grouped):
    """A GroupRead when ``node`` reads exactly the members of one group, in order, and its type knows how."""
    reader = GROUP_READERS.get(type(node))
    group = grouped.get(node.parents[0]) if node.parents else None
    if reader is None or group is None or node.parents != group.members:
        return None
    return GroupRead(node, group, reader)


class GroupRead:
    """A node computed from its group's stacked value, and its gradient handed back stacked."""

    def __init__(self, node, group, reader):
        self.node, self.group, self.reader = node, group, reader

    def forward(self):
        node = self.node
        if node.value is None:
            if self.group.fresh():
                node.value = self.reader.forward(node, self.group.value)
            else:  # someone else computed the members: read them one by one
                node.compute()

    def backward(self, grads, on_path, stacked_grads, clear):
        grad = grads.get(self.node)
        if grad is None:
            if clear:
                self.node.grad = None
            return
        self.node.grad = grad
        stacked = self.reader.backward(self.node, grad, self.group.value.shape)
        rows = list(stacked)
        for member, row in zip(self.group.members, rows, strict=True):
            if member in on_path:
                _add(grads, member, row)
        stacked_grads[self.group] = (stacked, rows)
