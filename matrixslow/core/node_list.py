"""The list behind ``Graph.nodes``: a plain list that tells its graph whenever it changes."""


class NodeList(list):
    """``graph.nodes``: a list that reports every change to its graph.

    The book resets a graph by editing this list directly
    (``default_graph.nodes.clear()``, ``g.nodes = other.nodes.copy()``). The graph
    keeps a name index and cached topological orders beside the list, so every
    mutating method first lets the list change, then tells the graph to forget
    both; the index is rebuilt from the list on the next look-up.
    """

    def __init__(self, nodes=(), graph=None):
        super().__init__(nodes)
        self._graph = graph

    def _changed(self):
        graph = getattr(self, "_graph", None)  # unpickling fills the list before it sets _graph
        if graph is not None:
            graph.nodes_edited()


def _reporting(method_name):
    method = getattr(list, method_name)

    def edit(self, *args):
        result = method(self, *args)
        self._changed()
        return self if result is self else result  # `nodes += more` must keep the NodeList

    edit.__name__ = method_name
    edit.__doc__ = method.__doc__
    return edit


# Every list method that can add, drop or replace an element (and so a name).
for _name in (
    "append",
    "extend",
    "insert",
    "remove",
    "pop",
    "clear",
    "sort",
    "reverse",
    "__setitem__",
    "__delitem__",
    "__iadd__",
    "__imul__",
):
    setattr(NodeList, _name, _reporting(_name))
del _name
