"""The book's layers exported: fc with each activation, conv (per kernel), pooling and embedding, both dtypes."""

import numpy as np
import pytest

import matrixslow as ms
from matrixslow.onnx import export
from tests.onnx.roundtrip import assert_runs_like_the_engine

DTYPES = pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=lambda dtype: dtype.__name__)


def _fed(shape, name):
    return ms.core.Variable(shape, trainable=False, name=name)


def _check(graph, feeds, outputs):
    proto = export(graph, inputs=list(feeds), outputs=outputs)
    assert_runs_like_the_engine(proto, graph, feeds, outputs)
    return proto


@DTYPES
@pytest.mark.parametrize("activation", [None, "ReLU", "Logistic", "Tanh"])
def test_fc(activation, dtype):
    with ms.core.Graph(dtype=dtype) as graph:
        output = ms.layer.fc(_fed((4, 1), "x"), 4, 3, activation, weights_init="glorot")
    _check(graph, {"x": np.random.default_rng(0).normal(size=(6, 4, 1))}, [output])


@DTYPES
@pytest.mark.parametrize("kernel_shape", [(3, 3), (2, 3), (5, 5)], ids=str)
def test_conv_of_several_maps_and_kernels(kernel_shape, dtype):
    rng = np.random.default_rng(1)
    with ms.core.Graph(dtype=dtype) as graph:
        maps = [_fed((6, 7), "red"), _fed((6, 7), "green")]
        outputs = ms.layer.conv(maps, (6, 7), 3, kernel_shape, "ReLU", kernel_init="glorot", bias_init="glorot")
    proto = _check(graph, {"red": rng.normal(size=(4, 6, 7)), "green": rng.normal(size=(4, 6, 7))}, outputs)
    # float32 maps each Convolve to an ONNX Conv; float64 to shifted slices, as onnxruntime has no float64 Conv.
    convs = sum(node.op_type == "Conv" for node in proto.graph.node)
    assert convs == (6 if dtype is np.float32 else 0)


@DTYPES
@pytest.mark.parametrize(
    ("size", "stride"), [((3, 3), (2, 2)), ((2, 2), (2, 2)), ((3, 2), (1, 3)), ((5, 5), (3, 3)), ((1, 1), (1, 1))]
)
def test_pooling(size, stride, dtype):
    with ms.core.Graph(dtype=dtype) as graph:
        outputs = ms.layer.pooling([_fed((7, 6), "a"), _fed((7, 6), "b")], size, stride)
    rng = np.random.default_rng(2)
    _check(graph, {"a": rng.normal(size=(3, 7, 6)), "b": rng.normal(size=(3, 7, 6))}, outputs)


@DTYPES
def test_conv_pooling_and_fc_in_a_row(dtype):
    """The book's chapter 8 network, small: conv, pooling, conv, pooling, Concat, fc, SoftMax."""
    with ms.core.Graph(dtype=dtype) as graph:
        x = _fed((8, 8), "x")
        maps = ms.layer.pooling(ms.layer.conv([x], (8, 8), 2, (3, 3), "ReLU", kernel_init="glorot"), (3, 3), (2, 2))
        maps = ms.layer.pooling(ms.layer.conv(maps, (4, 4), 2, (3, 3), "Tanh", kernel_init="glorot"), (2, 2), (2, 2))
        logits = ms.layer.fc(ms.ops.Concat(*maps), 8, 3, None, weights_init="glorot")
        output = ms.ops.SoftMax(logits)
    _check(graph, {"x": np.random.default_rng(3).normal(size=(5, 8, 8))}, [output])


@DTYPES
def test_embedding_of_one_hot_and_multi_hot_fields(dtype):
    rng = np.random.default_rng(4)
    with ms.core.Graph(dtype=dtype) as graph:
        output = ms.layer.embedding(_fed((5, 1), "field"), 5, 3)
    one_hot = np.eye(5)[rng.integers(0, 5, 4)][:, :, None]
    multi_hot = (rng.random((4, 5, 1)) < 0.5).astype(float)
    _check(graph, {"field": np.concatenate([one_hot, multi_hot])}, [output])
