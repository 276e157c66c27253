"""Every zoo builder, exported: onnxruntime computes the engine's predictions, for any batch size."""

import numpy as np
import onnx
import pytest

import matrixslow as ms
from matrixslow.onnx import BATCH, OPSET, export
from tests.model.cases import SMALL
from tests.onnx.roundtrip import assert_runs_like_the_engine, run_onnx, session

DTYPES = [np.float64, np.float32]


def build(name, dtype, samples=7):
    """SMALL[name] built into a new graph of ``dtype``: (graph, model, feeds of ``samples`` samples)."""
    with ms.core.Graph(dtype=dtype) as graph:
        model = SMALL[name].build()
    x, _ = SMALL[name].data(np.random.default_rng(1), samples)
    return graph, model, model.feed(x)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda dtype: dtype.__name__)
@pytest.mark.parametrize("name", list(SMALL))
def test_every_builder_exports_what_the_engine_predicts(name, dtype):
    graph, model, feeds = build(name, dtype)
    proto = export(model)
    assert [tensor.name for tensor in proto.graph.input] == [node.name for node in model.inputs]
    assert [tensor.name for tensor in proto.graph.output] == [model.predict.name]
    assert_runs_like_the_engine(proto, graph, feeds, [model.predict])


@pytest.mark.parametrize("name", list(SMALL))
def test_one_export_takes_any_batch_size(name):
    graph, model, _ = build(name, np.float64)
    proto = export(model)
    for tensor in [*proto.graph.input, *proto.graph.output]:
        assert tensor.type.tensor_type.shape.dim[0].dim_param == BATCH, tensor.name
    for samples in (1, 7):
        x, _ = SMALL[name].data(np.random.default_rng(samples), samples)
        assert_runs_like_the_engine(proto, graph, model.feed(x), [model.predict])


def test_the_model_is_valid_onnx_of_the_chosen_opset_and_the_graphs_dtype():
    for dtype, elem_type in ((np.float64, onnx.TensorProto.DOUBLE), (np.float32, onnx.TensorProto.FLOAT)):
        _, model, _ = build("dnn", dtype)
        proto = export(model)
        onnx.checker.check_model(proto, full_check=True)
        assert [(opset.domain, opset.version) for opset in proto.opset_import] == [("", OPSET)]
        # Floats in the graph's type; int64 only for the shapes, axes and bounds ONNX operators take as inputs.
        assert {initializer.data_type for initializer in proto.graph.initializer} == {elem_type, onnx.TensorProto.INT64}
        assert {tensor.type.tensor_type.elem_type for tensor in [*proto.graph.input, *proto.graph.output]} == {
            elem_type
        }


def test_trainable_variables_become_initializers_named_as_the_nodes():
    graph, model, _ = build("dnn", np.float64)
    proto = export(model)
    initializers = {
        initializer.name: onnx.numpy_helper.to_array(initializer) for initializer in proto.graph.initializer
    }
    weights = ms.core.get_trainable_variables_from_graph(graph=graph)
    assert weights
    for node in weights:
        np.testing.assert_array_equal(initializers[node.name], node.value)


def test_the_export_keeps_only_the_nodes_the_outputs_need():
    graph, model, feeds = build("wide_and_deep", np.float64)
    proto = export(model, outputs=model.parts["wide"])
    initializers = {initializer.name for initializer in proto.graph.initializer}
    assert not any(name.startswith(("Embedding/", "Deep/")) for name in initializers), sorted(initializers)
    assert_runs_like_the_engine(proto, graph, feeds, [model.parts["wide"]])


def test_several_outputs_by_node_or_name_in_the_order_given():
    graph, model, feeds = build("factorization_machine", np.float32)
    outputs = [model.predict, model.parts["pairwise"], model.logits]
    proto = export(model, outputs=["predict", model.parts["pairwise"], model.logits.name])
    assert [tensor.name for tensor in proto.graph.output] == [node.name for node in outputs]
    assert_runs_like_the_engine(proto, graph, feeds, outputs)


def test_a_graph_exports_by_input_and_output_names(graph):
    model = SMALL["softmax_regression"].build()
    x, _ = SMALL["softmax_regression"].data(np.random.default_rng(2), 5)
    proto = export(graph, inputs="x", outputs="predict")
    assert_runs_like_the_engine(proto, graph, model.feed(x), [model.predict])
    assert export(None, inputs="x", outputs="predict") == proto  # None: the default graph, here the fixture's


def test_a_welded_rnn_exports_the_length_it_is_set_to(graph):
    model = ms.model.rnn(4, 2, 5, 3, welding=True)
    model.set_length(2)
    x = np.random.default_rng(3).standard_normal((6, 4, 2))
    proto = export(model)
    assert [tensor.name for tensor in proto.graph.input] == ["x_0", "x_1"]
    feeds = {name: batch for name, batch in model.feed(x).items() if name in ("x_0", "x_1")}
    assert_runs_like_the_engine(proto, graph, feeds, [model.predict])


def test_the_file_written_is_the_model_returned(tmp_path, graph):
    model = SMALL["cnn"].build()
    x, _ = SMALL["cnn"].data(np.random.default_rng(4), 3)
    path = tmp_path / "cnn.onnx"
    proto = export(model, path)
    assert onnx.load(path) == proto
    assert_runs_like_the_engine(path, graph, model.feed(x), [model.predict])
    assert session(path).get_inputs()[0].shape == [BATCH, 6, 6]


def test_the_export_leaves_the_graph_as_it_was(graph):
    model = SMALL["deepfm"].build()
    x, _ = SMALL["deepfm"].data(np.random.default_rng(5), 4)
    before = [(node.name, None if node.value is None else node.value.copy()) for node in graph.nodes]
    proto = export(model)
    after = [(node.name, node.value) for node in graph.nodes]
    assert [name for name, _ in before] == [name for name, _ in after]
    for (name, old), (_, new) in zip(before, after, strict=True):
        assert (old is None and new is None) or np.array_equal(old, new), name
    assert run_onnx(proto, model.feed(x), np.float64)[0].shape == (4, 1, 1)
