"""The book's ``Graph.draw()``: the graph as boxes in layers, coloured by gradient size."""

import math

from . import describe
from ._matplotlib import new_figure, require_matplotlib, root_figure, save_png
from .layout import layout

# Past this many nodes labels would overlap into noise: nodes become coloured dots.
LABEL_LIMIT = 120
NO_GRADIENT = "lightgrey"
NOT_FINITE = "magenta"
COLOUR_MAP = "YlOrRd"


def draw_graph(graph, ax=None, path=None):
    """Draw ``graph``: a box per node, an arrow per edge from parent to child.

    Parameters
    ----------
    graph : Graph
    ax : matplotlib Axes, optional
        Where to draw; by default a new figure sized to the graph (at most 40 x 40 inches).
    path : str or path-like, optional
        Also write the figure as a PNG there.

    Returns
    -------
    matplotlib Axes

    Each box shows the node's type (or name and type) and its value shape; the
    inputs are at the top. Boxes are coloured by the norm of the node's gradient
    (``node.grad``, set by ``ms.core.backward`` or an optimizer's ``one_step()``)
    with a colour bar; grey means no gradient, magenta a NaN or infinite one.
    Graphs of more than ``LABEL_LIMIT`` nodes are drawn as dots without labels.
    Nothing is shown on screen: pass an Axes from pyplot and call ``plt.show()``
    for that.
    """
    matplotlib = require_matplotlib("draw_graph")
    positions = layout(graph)
    labelled = len(positions) <= LABEL_LIMIT
    if ax is None:
        ax = _new_axes(positions, labelled)
    norms = {node: describe.gradient_norm(node) for node in graph.nodes}
    colour_scale = _colour_scale(matplotlib, norms.values())
    colours = {node: _colour(norms[node], colour_scale) for node in graph.nodes}
    if labelled:
        _draw_boxes(matplotlib, ax, graph, positions, colours, norms)
    else:
        _draw_dots(matplotlib, ax, graph, positions, colours)
    _frame(ax, graph, positions, labelled)
    if colour_scale is not None:
        colour_bar = root_figure(ax).colorbar(colour_scale, ax=ax, shrink=0.8)
        colour_bar.set_label("gradient norm" + (" (log scale)" if _is_log(matplotlib, colour_scale) else ""))
    save_png(root_figure(ax), path)
    return ax


def _new_axes(positions, labelled):
    layers = 1 - min((y for _, y in positions.values()), default=0)
    widest = max(_row_counts(positions).values(), default=1)
    if labelled:
        width, height = min(max(1.7 * widest + 2, 6), 40), min(max(0.9 * layers + 1, 4), 40)
    else:
        width, height = min(max(0.25 * widest + 2, 6), 30), min(max(0.06 * layers + 2, 6), 30)
    figure = new_figure("draw_graph", width, height)
    return figure.add_subplot()


def _row_counts(positions):
    counts = {}
    for _, y in positions.values():
        counts[y] = counts.get(y, 0) + 1
    return counts


def _colour_scale(matplotlib, norms):
    """A colour map over the finite gradient norms, on a log scale when they span 100x or more."""
    finite = [norm for norm in norms if norm is not None and math.isfinite(norm)]
    if not finite:
        return None
    low, high = min(finite), max(finite)
    if low > 0 and high / low >= 100:
        scale = matplotlib.colors.LogNorm(vmin=low, vmax=high)
    else:
        # A single value (or all equal) still needs a range to map onto.
        scale = matplotlib.colors.Normalize(vmin=low, vmax=high if high > low else low + 1)
    return matplotlib.cm.ScalarMappable(norm=scale, cmap=COLOUR_MAP)


def _is_log(matplotlib, colour_scale):
    return isinstance(colour_scale.norm, matplotlib.colors.LogNorm)


def _colour(norm, colour_scale):
    if norm is None:
        return NO_GRADIENT
    if not math.isfinite(norm):
        return NOT_FINITE
    return colour_scale.to_rgba(norm)


def _draw_boxes(matplotlib, ax, graph, positions, colours, norms):
    boxes = {}
    for node in graph.nodes:
        lines = [describe.title(node), describe.shape_text(node)]
        if norms[node] is not None:
            lines.append(describe.norm_text(norms[node]))
        x, y = positions[node]
        box = ax.text(
            x,
            y,
            "\n".join(lines),
            ha="center",
            va="center",
            fontsize=7,
            color=_text_colour(matplotlib, colours[node]),
            zorder=3,
            bbox={"boxstyle": "round,pad=0.4", "facecolor": colours[node], "edgecolor": "black", "linewidth": 0.6},
        )
        box.set_gid(node.name)  # lets callers (and tests) find a node's box
        boxes[node] = box
    for child in graph.nodes:
        for parent in child.parents:
            # Drawn above the boxes but clipped to their outlines, so each arrow
            # runs from the edge of the parent's box to the edge of the child's.
            ax.annotate(
                "",
                xy=positions[child],
                xytext=positions[parent],
                zorder=4,
                arrowprops={
                    "arrowstyle": "-|>",
                    "color": "dimgrey",
                    "linewidth": 0.7,
                    "shrinkA": 0,
                    "shrinkB": 0,
                    "patchA": boxes[parent].get_bbox_patch(),
                    "patchB": boxes[child].get_bbox_patch(),
                },
            )


def _text_colour(matplotlib, background):
    """White on dark boxes, black on light ones (by the background's perceived brightness)."""
    red, green, blue = matplotlib.colors.to_rgb(background)
    return "white" if 0.299 * red + 0.587 * green + 0.114 * blue < 0.5 else "black"


def _draw_dots(matplotlib, ax, graph, positions, colours):
    segments = [(positions[parent], positions[child]) for child in graph.nodes for parent in child.parents]
    ax.add_collection(matplotlib.collections.LineCollection(segments, colors="dimgrey", linewidths=0.4, zorder=1))
    xs = [positions[node][0] for node in graph.nodes]
    ys = [positions[node][1] for node in graph.nodes]
    ax.scatter(xs, ys, s=12, c=[colours[node] for node in graph.nodes], edgecolors="black", linewidths=0.2, zorder=2)


def _frame(ax, graph, positions, labelled):
    xs = [x for x, _ in positions.values()] or [0.0]
    ys = [y for _, y in positions.values()] or [0.0]
    margin = 0.6 if labelled else 0.5
    ax.set_xlim(min(xs) - margin, max(xs) + margin)
    ax.set_ylim(min(ys) - margin, max(ys) + margin)
    ax.set_axis_off()
    with_gradient = sum(node.grad is not None for node in graph.nodes)
    note = "" if labelled else ", labels omitted"
    if with_gradient == 0 and graph.nodes:
        note += " (grey: run backward to colour by gradient)"
    ax.set_title(f"{len(graph.nodes)} nodes, {with_gradient} with a gradient{note}", fontsize=9)
