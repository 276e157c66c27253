"""One training step (forward, backward, Adam update) of five models, matrixslow beside its NumPy twin.

Models (``engine_models``): logistic and softmax regression, the digits MLP, CNN and RNN, at batch
1, 32 and 256, so the batching gain is visible; plus the 784-256-256-10 MLP at batch 128 in float64
and float32. Each (model, batch) pair shares a benchmark group; the end of the run prints
matrixslow / NumPy (``conftest``), and the report the samples/s gain of each batch size over batch 1.
"""

import numpy as np
import pytest

import matrixslow as ms

from . import engine_models
from .numpy_mlp import NumpyMLP
from .settings import pick
from .timing import measure

BATCHES = pick((1, 32, 256), (1, 32, 256), tiny=(1, 4))
ENGINES = ("matrixslow", "numpy")


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("batch", BATCHES, ids=lambda b: f"batch{b}")
@pytest.mark.parametrize("model", engine_models.MODEL_NAMES)
def test_model_training_step(benchmark, model, batch, engine):
    matrixslow_step, numpy_step = engine_models.step_pair(model, batch)
    benchmark.group = f"step[{model}, batch {batch}]"
    benchmark.extra_info.update(kind="engine_step", model=model, batch=batch, engine=engine)
    median = measure(benchmark, matrixslow_step if engine == "matrixslow" else numpy_step)
    benchmark.extra_info["samples_per_second"] = batch / median


# The 784-256-256-10 MLP at batch 128: the size where the engine's per-node overhead should vanish.
LARGE_SIZES = pick((784, 256, 256, 10), (784, 256, 256, 10), tiny=(16, 8, 8, 4))
LARGE_BATCH = pick(128, 128, tiny=4)


def make_batch(rng, dtype):
    x = rng.normal(size=(LARGE_BATCH, LARGE_SIZES[0])).astype(dtype)
    labels = rng.integers(0, LARGE_SIZES[-1], LARGE_BATCH)
    return x, np.eye(LARGE_SIZES[-1], dtype=dtype)[labels]


def build_matrixslow_step(dtype):
    graph = ms.core.Graph(dtype=dtype)
    with graph:
        x = ms.Variable(dim=(LARGE_SIZES[0], 1), init=False, trainable=False)
        one_hot = ms.Variable(dim=(LARGE_SIZES[-1], 1), init=False, trainable=False)
        hidden = ms.layer.fc(x, LARGE_SIZES[0], LARGE_SIZES[1], "ReLU")
        hidden = ms.layer.fc(hidden, LARGE_SIZES[1], LARGE_SIZES[2], "ReLU")
        logits = ms.layer.fc(hidden, LARGE_SIZES[2], LARGE_SIZES[3], None)
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
    model = NumpyMLP(LARGE_SIZES, rng, dtype=dtype)
    batch_x, batch_y = make_batch(rng, dtype)
    return lambda: model.step(batch_x, batch_y)


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("engine", ENGINES)
def test_mlp_training_step(benchmark, engine, dtype):
    build = build_matrixslow_step if engine == "matrixslow" else build_numpy_step
    step = build(dtype)
    benchmark.group = f"mlp784_step[{np.dtype(dtype).name}]"
    benchmark.extra_info.update(
        kind="engine_step_large", model="mlp-" + "-".join(map(str, LARGE_SIZES)), batch=LARGE_BATCH, engine=engine,
        dtype=np.dtype(dtype).name,
    )  # fmt: skip
    measure(benchmark, step)
