"""The graph as Graphviz DOT text, for ``dot -Tpng`` or any DOT viewer. Needs no matplotlib."""

import math

from . import describe
from .layout import _check_graph

NO_GRADIENT = "#d3d3d3"
# Light yellow for the smallest gradient norm, dark red for the largest (the ends of YlOrRd).
LOW, HIGH = (0xFF, 0xFF, 0xB2), (0xBD, 0x00, 0x26)
NOT_FINITE = "#ff00ff"


def graph_to_dot(graph):
    """Graphviz DOT text of ``graph``: a box per node, an edge per parent -> child.

    Node ids are the node names, quoted (names hold '/' and ':'). Each label gives
    the type, the value shape and the full name, and the gradient norm when the node
    has a gradient; boxes are filled by gradient norm, grey without one.
    """
    _check_graph(graph)
    norms = {node: describe.gradient_norm(node) for node in graph.nodes}
    fill = _fill_colours(norms)
    lines = [
        "digraph matrixslow {",
        "  rankdir=TB;",
        '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=10];',
    ]
    for node in graph.nodes:
        label = [describe.type_name(node), describe.shape_text(node), node.name]
        if norms[node] is not None:
            label.append(describe.norm_text(norms[node]))
        lines.append(f"  {quote(node.name)} [label={quote(chr(10).join(label))}, fillcolor={quote(fill[node])}];")
    for child in graph.nodes:
        for parent in child.parents:
            lines.append(f"  {quote(parent.name)} -> {quote(child.name)};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def write_dot(graph, path):
    """Write ``graph_to_dot(graph)`` to ``path`` (UTF-8)."""
    with open(path, "w", encoding="utf-8") as file:
        file.write(graph_to_dot(graph))


def quote(text):
    """``text`` as a DOT double-quoted string: backslashes and quotes escaped, newlines as \\n."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    escaped = escaped.replace("\r\n", "\\n").replace("\n", "\\n").replace("\r", "\\n")
    return f'"{escaped}"'


def _fill_colours(norms):
    finite = [norm for norm in norms.values() if norm is not None and math.isfinite(norm)]
    low, high = (min(finite), max(finite)) if finite else (0.0, 0.0)
    log_scale = low > 0 and high / low >= 100  # the same rule as draw_graph's colour bar
    colours = {}
    for node, norm in norms.items():
        if norm is None:
            colours[node] = NO_GRADIENT
        elif not math.isfinite(norm):
            colours[node] = NOT_FINITE
        else:
            if log_scale:
                share = (math.log(norm) - math.log(low)) / (math.log(high) - math.log(low))
            else:
                share = (norm - low) / (high - low) if high > low else 0.0
            colours[node] = "#" + "".join(f"{round(a + (b - a) * share):02x}" for a, b in zip(LOW, HIGH, strict=True))
    return colours
