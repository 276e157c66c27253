"""The one place that imports matplotlib: lazily, with an error that says how to install it.

Figures are made as ``matplotlib.figure.Figure`` objects, not through pyplot, so
drawing never opens a window, never switches the caller's backend and never
piles figures up in pyplot's registry; ``savefig`` writes PNGs with Agg.
"""

from ..extras import needs_extra


def require_matplotlib(feature):
    """Import matplotlib, or raise a ``MissingExtraError`` that names ``feature`` and the ``viz`` extra."""
    with needs_extra("viz", feature):
        import matplotlib
        import matplotlib.cm
        import matplotlib.collections
        import matplotlib.colors
        import matplotlib.figure
    return matplotlib


def new_figure(feature, width, height, dpi=100):
    """A figure of ``width`` x ``height`` inches, detached from pyplot."""
    matplotlib = require_matplotlib(feature)
    return matplotlib.figure.Figure(figsize=(width, height), dpi=dpi)


def root_figure(ax):
    """The figure an Axes is drawn on (the top figure when the Axes sits in a subfigure)."""
    return ax.figure.figure


def save_png(figure, path):
    """Write ``figure`` to ``path`` as a PNG of exactly the figure's size in pixels."""
    if path is not None:
        # No bbox_inches="tight": the file keeps the figure's size, so callers can predict it.
        figure.savefig(path, format="png", dpi=figure.dpi)
