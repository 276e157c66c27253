"""Run an exported model in onnxruntime and compare it with the engine's own forward pass."""

import numpy as np
import onnxruntime

TOLERANCE = {np.float64: 1e-9, np.float32: 1e-6}


def session(model):
    """An onnxruntime session (of a ModelProto or a file) on one thread: the test machine's cores are shared."""
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    source = model.SerializeToString() if hasattr(model, "SerializeToString") else str(model)
    return onnxruntime.InferenceSession(source, options, providers=["CPUExecutionProvider"])


def run_onnx(model, feeds, dtype):
    """The exported model's outputs on ``feeds`` ({input name: batch}), fed in the model's float type."""
    return session(model).run(None, {name: np.asarray(batch, dtype=dtype) for name, batch in feeds.items()})


def engine_forward(graph, feeds, outputs):
    """The engine's values of ``outputs`` after feeding ``feeds`` into the graph's input Variables."""
    for name, batch in feeds.items():
        graph.get(name).set_value(batch)
    return [np.array(node.forward()) for node in outputs]


def assert_runs_like_the_engine(model, graph, feeds, outputs):
    """onnxruntime's outputs of ``model`` on ``feeds`` equal the engine's ``outputs`` to the dtype's tolerance."""
    theirs = run_onnx(model, feeds, graph.dtype)
    ours = engine_forward(graph, feeds, outputs)
    tolerance = TOLERANCE[graph.dtype]
    assert len(theirs) == len(ours)
    for node, mine, other in zip(outputs, ours, theirs, strict=True):
        assert other.dtype == graph.dtype, (node.name, other.dtype)
        assert other.shape == mine.shape, (node.name, other.shape, mine.shape)
        np.testing.assert_allclose(other, mine, rtol=tolerance, atol=tolerance, err_msg=node.name)
