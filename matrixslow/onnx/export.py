"""Walk a graph from its outputs back to its inputs and write the nodes found on the way as an ONNX model."""

import onnx  # the PyPI package "onnx" (an absolute import), not this matrixslow.onnx
from onnx import helper

from .. import __version__
from ..core.autodiff import topological_order
from ..core.graph import Graph, get_default_graph
from ..core.node import Node
from ..core.variable import Variable
from ..model.base import Model
from .converters import CONVERTERS
from .emitter import Emitter, Tensor
from .errors import OnnxExportError

# Opset 21 (ONNX 1.16, IR version 10): recent, and run by every onnxruntime since 1.18.
OPSET = 21
IR_VERSION = 10
BATCH = "batch"  # the symbolic first dimension of every input and output


def export(graph_or_model=None, path=None, inputs=None, outputs=None):
    """Write the forward pass from ``inputs`` to ``outputs`` as an ONNX model.

    Only the nodes the outputs need are written. Trainable Variables, and the non-trainable
    ones holding a constant matrix, become initializers; every float is the graph's dtype.

    Parameters
    ----------
    graph_or_model : Model, Graph or None
        A zoo model (``matrixslow.model``), whose ``inputs`` (those its outputs need) and
        ``predict`` are the defaults; a Graph; or None for the default graph.
    path : str or path-like, optional
        Where to write the model; without it nothing is written.
    inputs : Node, str or a list of them
        The Variables fed per batch, by node or name. Each becomes an ONNX input named as
        its node, of shape ("batch", rows, cols), so ``model.feed(x)`` is a valid feed.
    outputs : Node, str or a list of them
        The nodes to compute; ONNX outputs named as the nodes, ("batch", rows, cols).

    Returns
    -------
    onnx.ModelProto
        Checked by ``onnx.checker.check_model`` (with shape inference).

    Raises
    ------
    OnnxExportError
        A needed node with no ONNX form (a loss, a metric, an operator without a converter),
        an input or output that is unknown, not a fed Variable, not needed, or not batched.
    """
    graph, default_inputs, default_outputs = _unpack(graph_or_model)
    outputs = _resolve(graph, "outputs", default_outputs if outputs is None else outputs)
    order = _needed_nodes(outputs)
    if inputs is None and default_inputs is not None:
        inputs = [node for node in default_inputs if node in order]
    inputs = _resolve(graph, "inputs", inputs)
    _check_inputs(inputs, order)

    emit = Emitter(graph.dtype, taken=(node.name for node in graph.nodes))
    tensors = {}
    for node in order:
        tensors[node] = _convert(emit, node, tensors, inputs)
    for node in outputs:
        if not tensors[node].batched:
            raise OnnxExportError(
                f"output {node.describe()} depends on no input: its value is the same for every sample"
            )

    model = helper.make_model(
        helper.make_graph(
            emit.nodes,
            getattr(graph_or_model, "name", None) or "matrixslow",
            [_value_info(emit, tensors[node]) for node in inputs],
            [_value_info(emit, tensors[node]) for node in outputs],
            initializer=emit.initializers,
        ),
        opset_imports=[helper.make_opsetid("", OPSET)],
        ir_version=IR_VERSION,
        producer_name="matrixslow",
        producer_version=__version__,
    )
    onnx.checker.check_model(model, full_check=True)
    if path is not None:
        onnx.save(model, path)
    return model


def _unpack(graph_or_model):
    """(graph, default inputs, default outputs) of what ``export`` was given."""
    if graph_or_model is None:
        return get_default_graph(), None, None
    if isinstance(graph_or_model, Graph):
        return graph_or_model, None, None
    if isinstance(graph_or_model, Model):
        return graph_or_model.predict.graph, graph_or_model.inputs, [graph_or_model.predict]
    raise TypeError(f"export takes a Graph, a Model or None, got {type(graph_or_model).__name__}")


def _resolve(graph, field, given):
    """``given`` (a node, a name, or a list of them) as a list of distinct nodes of ``graph``."""
    if given is None:
        raise OnnxExportError(f"{field}: name the nodes (or node names) to export; only a Model has defaults")
    if isinstance(given, (str, Node)):
        given = [given]
    nodes = []
    for item in given:
        node = graph.get(item) if isinstance(item, str) else item
        if node is None:
            raise OnnxExportError(f"{field}: the graph has no node named {item!r}")
        if not isinstance(node, Node) or node.graph is not graph:
            raise OnnxExportError(f"{field}: {item!r} is not a node of the graph being exported")
        if node in nodes:
            raise OnnxExportError(f"{field}: {node.describe()} is named twice")
        nodes.append(node)
    if not nodes and field == "outputs":  # no inputs can be right: the outputs then say what they need
        raise OnnxExportError(f"{field}: no nodes given")
    return nodes


def _needed_nodes(outputs):
    """Every node the outputs need, parents before children (the union of their topological orders)."""
    order = {}
    for output in outputs:
        order.update(dict.fromkeys(topological_order(output)))
    return order


def _check_inputs(inputs, needed):
    for node in inputs:
        if not isinstance(node, Variable) or node.trainable:
            raise OnnxExportError(f"inputs: {node.describe()} is not a non-trainable Variable that data is fed into")
        if node not in needed:
            raise OnnxExportError(f"inputs: the outputs do not depend on {node.describe()}; leave it out")


def _convert(emit, node, tensors, inputs):
    """The tensor of ``node``'s value: an ONNX input, an initializer, or the output of its converter's nodes."""
    if isinstance(node, Variable):
        return _variable(emit, node, inputs)
    converter = CONVERTERS.get(type(node))
    if converter is None:
        raise OnnxExportError(
            f"{node.describe()} has no ONNX form (losses, metrics and operators without a converter have none): "
            "export the nodes before it, or register a converter with @matrixslow.onnx.converts"
        )
    if not node.parents:
        raise OnnxExportError(f"{node.describe()} has no parents (a Welding not welded yet?)")
    parents = [tensors[parent] for parent in node.parents]
    emit.where = node.name
    shape = converter(emit, node, parents, node.name)
    return Tensor(node.name, tuple(shape), any(parent.batched for parent in parents))


def _variable(emit, node, inputs):
    if node in inputs:
        return Tensor(node.name, node.dim, True)
    value = node.value
    if value is None or value.shape != node.dim:
        what = "has no value" if value is None else f"holds a batch of shape {value.shape}"
        raise OnnxExportError(f"{node.describe()} {what}: name it in inputs, or give it one (rows, cols) value")
    emit.initializer(node.name, value.astype(emit.dtype, copy=False))
    return Tensor(node.name, node.dim, False)


def _value_info(emit, tensor):
    return helper.make_tensor_value_info(tensor.name, emit.elem_type, [BATCH, *tensor.shape])
