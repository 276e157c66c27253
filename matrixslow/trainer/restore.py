"""Put a checked model into a graph: create the saved nodes it lacks, then set the Variables' values.

Nodes the graph already has keep their wiring and are only checked against the
file. Missing nodes are created parents first, from registered types only; a
Welding is created bare and welded once every node exists, since its parent may
come after it (the loop of an RNN).

Every entry's kargs are checked against what its type takes (``node_kargs``)
before anything is created. Should creating a node still fail, whatever it raises
becomes a ModelFileError naming the node, and the nodes already created are taken
out again, so that the graph is left as it was.
"""

import numpy as np

from ..core import NODE_TYPES, Variable
from ..ops import Welding
from .errors import ModelFileError
from .node_kargs import kargs_problem


def restore_graph(graph, model, weights, model_path):
    """Create the nodes of ``model`` that ``graph`` lacks and set every saved Variable to its weight.

    ``model`` and ``weights`` are as ``read_model_files`` returns them; ``model_path``
    only names the file in error messages.
    """
    _Restore(graph, model, model_path).run(weights)


class _Restore:
    """Creates the saved nodes a graph lacks, in dependency order, then sets the Variables' values."""

    def __init__(self, graph, model, model_path):
        self.graph = graph
        self.model = model
        self.model_path = model_path
        self.entries = {entry["name"]: entry for entry in model["graph"]}

    def fail(self, problem):
        raise ModelFileError(f"{self.model_path}: {problem}")

    def run(self, weights):
        missing = [name for name in self.entries if self.graph.get(name) is None]
        for name, entry in self.entries.items():
            node = self.graph.get(name)
            if node is not None:
                self._check_existing(node, entry)
                self._check_kargs(type(node), entry)
        if missing and self.graph.name_scope:
            self.fail(f"cannot rebuild nodes inside name scope '{self.graph.name_scope}': their names would change")
        types = {name: self._node_type(self.entries[name]) for name in missing}
        order = self._creation_order(missing, types)
        self._build(order, types, weights)

    def _build(self, order, types, weights):
        """Create the nodes of ``order``, weld, and set the values; on any failure, undo it all."""
        # The nodes it had, rather than those created: a constructor that fails after
        # Node.__init__ has already added its node to the graph.
        existing, previous_values = set(self.graph.nodes), {}
        explicit_dtype = self.graph.explicit_dtype
        name = None
        try:
            if self.graph.node_count() == 0:
                self._adopt_dtype()
            for name in order:
                self._create(self.entries[name], types[name])
            for name in order:  # every node exists now, so each Welding can take its parent
                if issubclass(types[name], Welding) and self.entries[name]["parents"]:
                    self.graph.get(name).weld(self.graph.get(self.entries[name]["parents"][0]))
            for name, value in weights.items():
                node = self.graph.get(name)
                previous_values[node] = node.value
                node.set_value(value)
        except BaseException as error:
            self._undo(existing, previous_values, explicit_dtype)
            if isinstance(error, (ModelFileError, MemoryError)) or not isinstance(error, Exception):
                raise
            # Every entry was checked, so what creating it raised is about its fields (say a
            # Reshape shape of strings), and is reported as the file's, naming the node.
            where = "the graph" if name is None else f"node '{name}'"
            self.fail(f"cannot rebuild {where} ({type(error).__name__}: {error})")

    def _undo(self, existing, previous_values, explicit_dtype):
        """Take the nodes created out of the graph, and put back the values and the dtype it had."""
        if len(self.graph.nodes) != len(existing):
            self.graph.nodes = [node for node in self.graph.nodes if node in existing]
            for node in self.graph.nodes:
                node.children = [child for child in node.children if child in existing]
        for node, value in previous_values.items():
            if node in existing:
                node.value = value
        if self.graph.node_count() == 0 and explicit_dtype is None:
            self.graph._dtype = None  # an empty graph that followed the default dtype follows it again

    def _check_kargs(self, node_type, entry):
        problem = kargs_problem(node_type, entry["kargs"])
        if problem is not None:
            self.fail(f"node '{entry['name']}' ({entry['node_type']}): {problem}")

    def _check_existing(self, node, entry):
        where = f"node '{entry['name']}'"
        if type(node).__name__ != entry["node_type"]:
            self.fail(f"{where} is a {entry['node_type']} in the file but a {type(node).__name__} in the graph")
        self._check_dim_presence(isinstance(node, Variable), entry)
        if isinstance(node, Variable) and node.dim != tuple(entry["dim"]):
            self.fail(
                f"Variable '{entry['name']}' was saved with dim {tuple(entry['dim'])}, the graph's has {node.dim}"
            )

    def _node_type(self, entry):
        """The registered class of a node to create; nothing else is ever instantiated."""
        node_type = NODE_TYPES.get(entry["node_type"])
        where = f"node '{entry['name']}'"
        if node_type is None:
            self.fail(
                f"{where} has node type '{entry['node_type']}', which is not registered; if it is your own "
                f"node class, register it before loading with ms.core.register_node_type({entry['node_type']})"
            )
        self._check_dim_presence(issubclass(node_type, Variable), entry)
        self._check_kargs(node_type, entry)
        if issubclass(node_type, Welding) and len(entry["parents"]) > 1:
            self.fail(f"{where}: a Welding has at most one parent, got {entry['parents']}")
        for parent in entry["parents"]:
            if parent not in self.entries and self.graph.get(parent) is None:
                self.fail(f"{where}: parent '{parent}' is neither in the file nor in the graph")
        return node_type

    def _check_dim_presence(self, is_variable, entry):
        """A Variable's entry has a dim and any other node's has none."""
        if is_variable != ("dim" in entry):
            self.fail(
                f"node '{entry['name']}': a {entry['node_type']} entry {'has' if 'dim' in entry else 'needs'} a dim"
            )

    def _creation_order(self, missing, types):
        """``missing`` with parents first, by an iterative depth-first walk (graphs may be thousands deep).

        A Welding waits for nothing: it is created bare and welded at the end,
        since its parent may come after it (the loop of an RNN).
        """
        to_create = set(missing)
        waits_for = {name: [p for p in self.entries[name]["parents"] if p in to_create] for name in missing}
        for name in missing:
            if issubclass(types[name], Welding):
                waits_for[name] = []
        order, done, on_path = [], set(), set()
        for root in missing:
            if root in done:
                continue
            stack = [(root, iter(waits_for[root]))]
            on_path.add(root)
            while stack:
                name, parents = stack[-1]
                for parent in parents:
                    if parent in on_path:
                        self.fail(f"node '{parent}' depends on itself; only a Welding may close a loop")
                    if parent not in done:
                        on_path.add(parent)
                        stack.append((parent, iter(waits_for[parent])))
                        break
                else:
                    stack.pop()
                    on_path.discard(name)
                    done.add(name)
                    order.append(name)
        return order

    def _adopt_dtype(self):
        # An empty graph whose dtype nobody chose takes the saved one, so that the
        # rebuilt model computes exactly as the saved one did.
        if self.graph.explicit_dtype is None and np.dtype(self.graph.dtype).name != self.model["dtype"]:
            self.graph.dtype = self.model["dtype"]

    def _create(self, entry, node_type):
        name, kargs = entry["name"], entry["kargs"]
        try:
            if issubclass(node_type, Variable):
                dim, trainable = tuple(entry["dim"]), entry["trainable"]
                return node_type(dim=dim, init=False, trainable=trainable, name=name, graph=self.graph, **kargs)
            parents = [] if issubclass(node_type, Welding) else [self.graph.get(p) for p in entry["parents"]]
            return node_type(*parents, name=name, graph=self.graph, **kargs)
        except (TypeError, ValueError) as error:
            self.fail(f"cannot rebuild node '{name}' ({entry['node_type']}) from its kargs {kargs!r:.200}: {error}")
