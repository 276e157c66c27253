"""Where each node goes in a picture: layers by depth, and an order inside each layer.

Everything walks explicit queues and lists, never recursion, so a graph
thousands of nodes deep (an unrolled RNN) lays out like a small one.
"""

from collections import deque

from ..core.errors import GraphError
from ..core.graph import Graph


def assign_layers(graph):
    """The layer of every node: 0 at the top, every parent strictly above its children.

    A computed node sits one layer below its deepest parent (the longest path
    from the inputs). A node without parents (an input or a weight) sits just
    above its highest child rather than at the very top, so that a weight used
    deep in a network is drawn next to the operator that uses it.

    Returns
    -------
    dict
        ``{node: layer}`` for every node of ``graph``.

    Raises
    ------
    GraphError
        When the graph has a cycle (a Welding node welded to its own descendant).
    """
    _check_graph(graph)
    waiting = {node: len(node.parents) for node in graph.nodes}
    layer = {node: 0 for node in graph.nodes if not node.parents}
    ready = deque(layer)
    placed = 0
    # Kahn's algorithm: a node is placed once all its parents are, so its layer is final then.
    while ready:
        node = ready.popleft()
        placed += 1
        for child in node.children:
            layer[child] = max(layer.get(child, 0), layer[node] + 1)
            waiting[child] -= 1  # counts a parent listed twice (Add(x, x)) twice, like its children list
            if waiting[child] == 0:
                ready.append(child)
    if placed < len(graph.nodes):
        stuck = [node.name for node in graph.nodes if waiting[node] > 0]
        raise GraphError(f"cannot lay out the graph: it has a cycle through {', '.join(stuck[:5])}")
    for node in graph.nodes:
        if not node.parents and node.children:
            layer[node] = min(layer[child] for child in node.children) - 1
    return layer


def order_layers(graph, layer, sweeps=2):
    """The nodes of each layer, top layer first, ordered to keep edges short.

    Starts from creation order, then moves each node towards the mean position of
    its parents (sweeping down) and of its children (sweeping up): the barycentre
    heuristic of layered graph drawing, linear in the number of edges per sweep.
    """
    rows = [[] for _ in range(max(layer.values(), default=-1) + 1)]
    for node in graph.nodes:
        rows[layer[node]].append(node)
    position = {}
    for row in rows:
        _place(row, position)
    for _ in range(sweeps):
        for row in rows[1:]:
            _reorder(row, position, lambda node: node.parents)
        for row in reversed(rows[:-1]):
            _reorder(row, position, lambda node: node.children)
    return rows


def layout(graph):
    """The centre ``(x, y)`` of every node: one unit between neighbours, ``y = -layer``.

    Rows are centred on x = 0, so parents are above their children (larger y).
    """
    layer = assign_layers(graph)
    position = {}
    for row in order_layers(graph, layer):
        _place(row, position)
    return {node: (position[node], -float(layer[node])) for node in graph.nodes}


def _place(row, position):
    middle = (len(row) - 1) / 2
    for index, node in enumerate(row):
        position[node] = index - middle


def _reorder(row, position, neighbours_of):
    def barycentre(node):
        neighbours = neighbours_of(node)
        if not neighbours:
            return position[node]  # nothing to follow: stay put
        return sum(position[other] for other in neighbours) / len(neighbours)

    row.sort(key=barycentre)  # stable, so ties keep their order
    _place(row, position)


def _check_graph(graph):
    if not isinstance(graph, Graph):
        raise TypeError(f"expected a matrixslow Graph, got {type(graph).__name__}")
