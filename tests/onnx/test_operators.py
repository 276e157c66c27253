"""Every operator's converter against the engine, with its parents batched or shared in every combination.

A shared parent is a trainable Variable, one matrix for every sample: its ONNX tensor has no
batch axis, as in the engine, so each converter meets both layouts. An operator whose parents
are all shared has an output without a batch axis; such a case adds a batched input to it
(``Add``), so that the shared form is still exported and checked.
"""

import numpy as np
import pytest

import matrixslow as ms
from matrixslow.onnx import export
from matrixslow.ops.loss import LossFunction
from tests.onnx.roundtrip import assert_runs_like_the_engine
from tests.ops.cases import CASES


def _is_loss(case):
    with ms.core.Graph():
        parents = [ms.core.Variable(shape, init=True, trainable=True) for shape in case.shapes]
        return isinstance(case.build(parents), LossFunction)


OPERATOR_CASES = [case for case in CASES if not _is_loss(case)]


def _layouts(case):
    """ "batched": every parent fed per batch; "only i": parent i only; "shared": none (an Add brings the batch)."""
    count = len(case.shapes)
    return ["batched", *(f"only {index}" for index in range(count) if count > 1), "shared"]


PARAMETERS = [(case, layout) for case in OPERATOR_CASES for layout in _layouts(case)]


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=lambda dtype: dtype.__name__)
@pytest.mark.parametrize(("case", "layout"), PARAMETERS, ids=[f"{case.id}-{layout}" for case, layout in PARAMETERS])
def test_the_converter_computes_what_the_operator_does(case, layout, dtype):
    rng = np.random.default_rng(0)
    batch = 5
    with ms.core.Graph(dtype=dtype) as graph:
        parents, feeds, values = [], {}, case.values(rng, batch)
        for index, shape in enumerate(case.shapes):
            if layout == "batched" or layout == f"only {index}":
                parent = ms.core.Variable(shape, trainable=False, name=f"p{index}")
                feeds[parent.name] = values[index]
            else:
                parent = ms.core.Variable(shape, init=lambda dim: rng.normal(size=dim), trainable=True)
            parents.append(parent)
        output = case.build(parents)
        if not feeds:
            sample_shape = case.reference(*case.values(rng)).shape
            offset = ms.core.Variable(sample_shape, trainable=False, name="offset")
            feeds[offset.name] = rng.normal(size=(batch, *sample_shape))
            output = ms.ops.Add(output, offset)
    proto = export(graph, inputs=list(feeds), outputs=output)
    assert_runs_like_the_engine(proto, graph, feeds, [output])
