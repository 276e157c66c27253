"""What cannot be exported says what and where: the node (operator and name), the input or the output."""

import subprocess
import sys

import numpy as np
import pytest

import matrixslow as ms
from matrixslow.extras import MissingExtraError
from matrixslow.onnx import OnnxExportError, converters, converts, export
from matrixslow.ops import Operator
from matrixslow.ops.metrics import Accuracy
from tests.onnx.roundtrip import assert_runs_like_the_engine


class Cube(Operator):
    """An operator the exporter has no converter for."""

    def compute(self):
        self.value = self.parents[0].value ** 3


@pytest.fixture
def model(graph):
    return ms.model.logistic_regression(3)


@pytest.mark.parametrize(
    ("build", "described"),
    [
        (lambda model: (model.loss, ["x", "label"]), "LogLoss 'loss'"),
        (lambda model: (Accuracy(model.predict, model.label, name="accuracy"), ["x", "label"]), "Accuracy 'accuracy'"),
        (lambda model: (Cube(model.logits, name="cube"), ["x"]), "Cube 'cube'"),
    ],
    ids=["loss", "metric", "operator without a converter"],
)
def test_a_node_without_an_onnx_form_is_named(model, build, described):
    output, inputs = build(model)
    with pytest.raises(OnnxExportError, match=f"^{described} has no ONNX form"):
        export(model, inputs=inputs, outputs=output)


def test_a_node_without_a_form_is_named_even_deep_inside_the_graph(graph):
    x = ms.core.Variable((2, 1), trainable=False, name="x")
    output = ms.ops.Logistic(ms.ops.Add(Cube(x, name="Inner/cube"), x))
    with pytest.raises(OnnxExportError, match="^Cube 'Inner/cube' has no ONNX form"):
        export(graph, inputs="x", outputs=output)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"inputs": "nope"}, "inputs: the graph has no node named 'nope'"),
        ({"outputs": "nope"}, "outputs: the graph has no node named 'nope'"),
        ({"outputs": ["predict", "predict"]}, "outputs: Logistic 'predict' is named twice"),
        ({"inputs": "label"}, "inputs: the outputs do not depend on Variable 'label'; leave it out"),
        ({"inputs": "Linear/Variable:1"}, "inputs: Variable 'Linear/Variable:1' is not a non-trainable Variable"),
        ({"inputs": "predict"}, "inputs: Logistic 'predict' is not a non-trainable Variable"),
        ({"outputs": []}, "outputs: no nodes given"),
        ({"inputs": []}, "Variable 'x' has no value: name it in inputs"),
        ({"outputs": "Linear/Variable:1"}, "output Variable 'Linear/Variable:1' depends on no input"),
    ],
)
def test_bad_inputs_and_outputs_are_named(model, arguments, message):
    with pytest.raises(OnnxExportError, match=f"^{message}"):
        export(model, **arguments)


def test_an_input_left_out_is_named(graph):
    ms.model.rnn(3, 2, 4, 2)
    with pytest.raises(OnnxExportError, match="^Variable 'x_1' has no value: name it in inputs"):
        export(graph, inputs=["x_0", "x_2"], outputs="predict")


def test_an_input_left_out_that_holds_a_batch_says_so(graph):
    ms.model.rnn(3, 2, 4, 2)
    graph.get("x_1").set_value(np.zeros((5, 2, 1)))
    with pytest.raises(OnnxExportError, match=r"^Variable 'x_1' holds a batch of shape \(5, 2, 1\): name it in inputs"):
        export(graph, inputs=["x_0", "x_2"], outputs="predict")


def test_a_graph_needs_its_inputs_and_outputs_named(graph):
    ms.model.logistic_regression(3)
    with pytest.raises(OnnxExportError, match="^outputs: name the nodes"):
        export(graph, inputs="x")
    with pytest.raises(OnnxExportError, match="^inputs: name the nodes"):
        export(graph, outputs="predict")


def test_a_node_of_another_graph_is_refused(model):
    with ms.core.Graph():
        stranger = ms.core.Variable((3, 1), trainable=False, name="x")
    with pytest.raises(OnnxExportError, match="^inputs: .* is not a node of the graph being exported"):
        export(model, inputs=[stranger])


def test_an_unwelded_welding_is_named(graph):
    x = ms.core.Variable((2, 1), trainable=False, name="x")
    welding = ms.ops.Welding(name="last")
    output = ms.ops.Add(welding, x)
    with pytest.raises(OnnxExportError, match="^Welding 'last' has no parents"):
        export(graph, inputs="x", outputs=output)


def test_export_refuses_what_is_neither_graph_nor_model():
    with pytest.raises(TypeError, match="export takes a Graph, a Model or None, got int"):
        export(42, inputs="x", outputs="y")


def test_without_onnx_the_import_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)  # None in sys.modules: "import onnx" fails as if not installed
    for name in [name for name in sys.modules if name.startswith("matrixslow.onnx")]:
        monkeypatch.delitem(sys.modules, name)
    with pytest.raises(MissingExtraError, match=r"^matrixslow.onnx needs the package 'onnx'.*\.\[onnx\]"):
        import matrixslow.onnx  # noqa: F401


def test_importing_matrixslow_does_not_import_onnx():
    check = "import sys, matrixslow; assert 'onnx' not in sys.modules and 'matrixslow.onnx' not in sys.modules"
    subprocess.run([sys.executable, "-c", check], check=True, timeout=60)


def test_an_operator_of_ones_own_exports_once_its_converter_is_registered(graph, monkeypatch):
    monkeypatch.setitem(converters.CONVERTERS, Cube, None)  # undone after the test: Cube unregistered again

    @converts(Cube)
    def cube(emit, node, parents, out):
        (x,) = parents
        emit.op("Pow", [x.name, emit.constant(3.0)], out)
        return x.shape

    x = ms.core.Variable((2, 3), trainable=False, name="x")
    output = Cube(x, name="cube")
    proto = export(graph, inputs="x", outputs=output)
    assert_runs_like_the_engine(proto, graph, {"x": np.random.default_rng(0).normal(size=(4, 2, 3))}, [output])
