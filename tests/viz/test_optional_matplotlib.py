"""matplotlib is optional: imported only to draw, with an install hint when it is missing."""

import re
import subprocess
import sys
import textwrap

import pytest

import matrixslow as ms
from matrixslow.extras import install_hint
from matrixslow.viz import draw_graph, plot_history, plot_roc

HINT = re.escape(install_hint("viz"))


@pytest.fixture
def no_matplotlib(monkeypatch):
    """Make every ``import matplotlib`` fail, as on a machine without it."""
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # even when no test has imported it yet
    for name in list(sys.modules):
        if name.startswith("matplotlib."):
            monkeypatch.setitem(sys.modules, name, None)


def test_each_picture_names_the_extra_to_install(mlp, no_matplotlib):
    graph, _, _ = mlp
    drawings = {
        "draw_graph": lambda: draw_graph(graph),
        "Graph.draw": graph.draw,
        "plot_history": lambda: plot_history([{"loss": 1.0}]),
        "plot_roc": lambda: plot_roc([0, 1], [0, 1]),
    }
    for feature, draw in drawings.items():
        with pytest.raises(ImportError, match=f"needs the package 'matplotlib'.*{HINT}") as raised:
            draw()
        assert raised.value.name.startswith("matplotlib"), feature  # what failed to import


def test_importing_matrixslow_loads_neither_viz_nor_matplotlib():
    script = textwrap.dedent(
        """
        import sys
        sys.modules["matplotlib"] = None  # importing it would fail
        import matrixslow
        assert "matrixslow.viz" not in sys.modules
        import matrixslow.viz  # works without matplotlib too
        print("ok")
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_the_graph_methods_are_there_without_drawing(graph):
    assert callable(ms.core.Graph.draw) and callable(ms.core.Graph.to_dot)
    assert graph.to_dot().startswith("digraph")
