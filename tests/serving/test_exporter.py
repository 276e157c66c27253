"""serving.Exporter writes the book's signature; read_signature reads every stored form back."""

import pytest

import matrixslow as ms
from matrixslow import serving


def test_one_name_each_gives_the_books_form(graph):
    model = ms.model.dnn(4, [3], 2)
    signature = serving.Exporter(graph).signature("x", model.predict.name)
    assert signature == {"inputs": {"name": "x"}, "outputs": {"name": "predict"}}
    assert serving.read_signature(signature) == (["x"], ["predict"])


def test_lists_of_names_give_lists_of_entries(graph):
    model = ms.model.rnn(3, 2, 4, 2)
    names = [node.name for node in model.inputs]
    signature = serving.Exporter().signature(names, [model.predict.name, model.logits.name])
    assert signature["inputs"] == [{"name": "x_0"}, {"name": "x_1"}, {"name": "x_2"}]
    assert serving.read_signature(signature) == (["x_0", "x_1", "x_2"], ["predict", model.logits.name])


def test_plain_lists_of_names_are_read_too():
    assert serving.read_signature({"inputs": ["a", "b"], "outputs": ["c"]}) == (["a", "b"], ["c"])


@pytest.mark.parametrize(
    ("inputs", "outputs", "message"),
    [
        ("nope", "predict", "no input node named 'nope'"),
        ("x", "nope", "no output node named 'nope'"),
        ([], "predict", "no input names"),
        (["x", "x"], "predict", "repeat"),
        ("Output/MatMul:5", "predict", "must be a non-trainable Variable"),
    ],
)
def test_bad_names_are_refused_with_the_name(graph, inputs, outputs, message):
    ms.model.dnn(4, [3], 2)
    if inputs == "Output/MatMul:5":  # any computed node: not something a request can be set into
        inputs = next(node.name for node in graph.nodes if node.parents)
    with pytest.raises(ValueError, match=message):
        serving.Exporter(graph).signature(inputs, outputs)


def test_a_trainable_variable_is_not_an_input(graph):
    ms.model.dnn(4, [3], 2)
    weight = next(node for node in graph.nodes if getattr(node, "trainable", False))
    with pytest.raises(ValueError, match=f"'{weight.name}' must be a non-trainable Variable"):
        serving.Exporter(graph).signature(weight.name, "predict")


@pytest.mark.parametrize(
    "signature",
    [None, {}, {"inputs": {"name": "x"}}, {"inputs": [], "outputs": ["y"]}, {"inputs": [{"nom": "x"}], "outputs": "y"}],
)
def test_malformed_signatures_are_refused(signature):
    with pytest.raises(ValueError, match="signature"):
        serving.read_signature(signature)
