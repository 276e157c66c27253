"""Pictures of graphs and of training: needs the optional matplotlib (``pip install -e ".[viz]"`` in the checkout).

matplotlib is imported only when a picture is drawn, so ``import matrixslow.viz``
works without it; ``graph_to_dot`` and the layout never need it.
"""

from .dot import graph_to_dot, write_dot
from .graph_picture import draw_graph
from .layout import assign_layers, layout, order_layers
from .plots import plot_history, plot_roc

__all__ = [
    "assign_layers",
    "draw_graph",
    "graph_to_dot",
    "layout",
    "order_layers",
    "plot_history",
    "plot_roc",
    "write_dot",
]
