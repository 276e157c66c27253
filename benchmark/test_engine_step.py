"""One training step of a 784-256-256-10 ReLU MLP on a batch of 128, matrixslow beside plain NumPy.

Both cases share the group "mlp_step"; the summary at the end of the run
(benchmark/conftest.py) prints their ratio. Target: matrixslow <= 1.5x NumPy.
"""

import numpy as np
import pytest

import matrixslow as ms

from .numpy_mlp import NumpyMLP

SIZES = (784, 256, 256, 10)
BATCH = 128


def make_batch(rng, dtype):
    x = rng.normal(size=(BATCH, SIZES[0])).astype(dtype)
    labels = rng.integers(0, SIZES[-1], BATCH)
    return x, np.eye(SIZES[-1], dtype=dtype)[labels]


def build_matrixslow_step(dtype):
    graph = ms.core.Graph(dtype=dtype)
    with graph:
        x = ms.Variable(dim=(SIZES[0], 1), init=False, trainable=False)
        one_hot = ms.Variable(dim=(SIZES[-1], 1), init=False, trainable=False)
        hidden = ms.layer.fc(x, SIZES[0], SIZES[1], "ReLU")
        hidden = ms.layer.fc(hidden, SIZES[1], SIZES[2], "ReLU")
        logits = ms.layer.fc(hidden, SIZES[2], SIZES[3], None)
        loss = ms.ops.loss.CrossEntropyWithSoftMax(logits, one_hot)
        optimizer = ms.optimizer.Adam(graph, loss, 0.001)
    batch_x, batch_y = make_batch(np.random.default_rng(0), dtype)
    x.set_value(batch_x[:, :, None])
    one_hot.set_value(batch_y[:, :, None])

    def step():
        optimizer.one_step()
        optimizer.update()

    return step


def build_numpy_step(dtype):
    rng = np.random.default_rng(0)
    model = NumpyMLP(SIZES, rng, dtype=dtype)
    batch_x, batch_y = make_batch(rng, dtype)
    return lambda: model.step(batch_x, batch_y)


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("engine", ["matrixslow", "numpy"])
def test_mlp_training_step(benchmark, engine, dtype):
    build = build_matrixslow_step if engine == "matrixslow" else build_numpy_step
    step = build(dtype)
    benchmark.group = f"mlp_step[{np.dtype(dtype).name}]"
    benchmark.extra_info["engine"] = engine
    benchmark(step)
