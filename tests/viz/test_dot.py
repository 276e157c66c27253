"""graph_to_dot and write_dot: Graphviz text with every node and edge, names quoted safely."""

import re
import sys

import numpy as np
import pytest

import matrixslow as ms
from matrixslow.ops import Add, Tanh
from matrixslow.viz import graph_to_dot, write_dot

TOKEN = re.compile(r'\s*(?:"((?:[^"\\]|\\.)*)"|(->|[{}\[\];=,])|([A-Za-z_][A-Za-z_0-9.]*|-?[0-9.]+))', re.S)


def tokens(text):
    """The DOT tokens of ``text``: ("string", unescaped), ("punct", p) or ("word", w)."""
    found, at = [], 0
    for match in TOKEN.finditer(text):
        assert match.start() == at, f"not DOT at {text[at : at + 40]!r}"
        at = match.end()
        string, punct, word = match.groups()
        if string is not None:
            found.append(("string", re.sub(r"\\(.)", lambda m: "\n" if m[1] == "n" else m[1], string, flags=re.S)))
        else:
            found.append(("punct", punct) if punct else ("word", word))
    assert not text[at:].strip(), f"not DOT at {text[at : at + 40]!r}"
    return found


def parse(text):
    """A small parser of the DOT subset a digraph needs: ``({node: attributes}, [(tail, head)])``.

    Fails on unbalanced braces, brackets or quotes, and on anything after the closing brace.
    """
    stream = tokens(text)
    assert stream[:3] == [("word", "digraph"), ("word", "matrixslow"), ("punct", "{")]
    nodes, edges, at = {}, [], 3

    def attributes():
        nonlocal at
        found = {}
        if stream[at] != ("punct", "["):
            return found
        at += 1
        while stream[at] != ("punct", "]"):
            (_, key), eq, (_, value) = stream[at : at + 3]
            assert eq == ("punct", "=")
            found[key] = value
            at += 3
            if stream[at] == ("punct", ","):
                at += 1
        at += 1
        return found

    while stream[at] != ("punct", "}"):
        kind, first = stream[at]
        at += 1
        if kind == "word" and stream[at] == ("punct", "="):  # rankdir=TB
            at += 2
        elif kind == "word" and first in ("node", "edge", "graph"):
            attributes()
        elif stream[at] == ("punct", "->"):
            assert kind == "string" and stream[at + 1][0] == "string"
            edges.append((first, stream[at + 1][1]))
            at += 2
            attributes()
        else:
            assert kind == "string"
            nodes[first] = attributes()
        assert stream[at] == ("punct", ";"), stream[at]
        at += 1
    assert at == len(stream) - 1, "text after the closing brace"
    return nodes, edges


def expected_edges(graph):
    return sorted((parent.name, child.name) for child in graph.nodes for parent in child.parents)


def test_every_node_and_every_edge_is_in_the_dot_text(mlp):
    graph, _, _ = mlp
    nodes, edges = parse(graph_to_dot(graph))
    assert set(nodes) == {node.name for node in graph.nodes}
    assert sorted(edges) == expected_edges(graph)
    assert nodes["Hidden/MatMul:4"]["label"] == "MatMul\n(no value)\nHidden/MatMul:4"
    assert nodes["Hidden/Variable:2"]["label"] == "Variable\n(8, 4)\nHidden/Variable:2"
    assert {attributes["fillcolor"] for attributes in nodes.values()} == {"#d3d3d3"}


def test_after_backward_labels_give_the_gradient_norm_and_fills_follow_it(mlp):
    graph, loss, _ = mlp
    ms.core.backward(loss)
    nodes, _ = parse(graph.to_dot())
    norms = {node.name: float(np.linalg.norm(node.grad)) for node in graph.nodes if node.grad is not None}
    for name, norm in norms.items():
        assert nodes[name]["label"].endswith(f"\n|grad| = {norm:.3g}"), name
    assert "|grad|" not in nodes["x"]["label"] and nodes["x"]["fillcolor"] == "#d3d3d3"
    assert nodes[max(norms, key=norms.get)]["fillcolor"] == "#bd0026"
    assert nodes[min(norms, key=norms.get)]["fillcolor"] == "#ffffb2"


def test_names_with_quotes_backslashes_and_newlines_survive_quoting(graph):
    odd = ['say "hi"', "back\\slash", "two\nlines", "Scope/Inner:3", "{braces};[x]->y"]
    first = ms.core.Variable((1, 1), name=odd[0])
    nodes = [first] + [Tanh(first, name=name) for name in odd[1:]]
    Add(*nodes, name="sum")
    parsed, edges = parse(graph_to_dot(graph))
    assert set(parsed) == set(odd) | {"sum"}
    assert sorted(edges) == expected_edges(graph)


def test_a_2000_node_chain_converts(graph):
    node = ms.core.Variable((1, 1), name="start")
    for _ in range(2000):
        node = Tanh(node)
    nodes, edges = parse(graph_to_dot(graph))
    assert len(nodes) == 2001 and len(edges) == 2000


def test_write_dot_writes_the_same_text(mlp, tmp_path):
    graph, _, _ = mlp
    path = tmp_path / "graph.dot"
    write_dot(graph, path)
    assert path.read_text(encoding="utf-8") == graph_to_dot(graph)


def test_dot_text_needs_no_matplotlib(mlp, monkeypatch):
    graph, _, _ = mlp
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    nodes, _ = parse(graph_to_dot(graph))
    assert len(nodes) == graph.node_count()


def test_something_other_than_a_graph_is_refused():
    with pytest.raises(TypeError, match="expected a matrixslow Graph, got str"):
        graph_to_dot("graph")
