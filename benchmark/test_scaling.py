"""Where the time goes: one MLP training step as the batch grows and as the layers widen.

- batch: the digits MLP 64-64-32-10, batch 1 to 1024 (powers of 2);
- width: an MLP 64-w-w-10 at batch 64, w = 64 to 2048.

matrixslow and the NumPy twin both; the end of the run prints the fitted exponent of
time ~ x^exponent (log-log least squares, ``stats.fit_power_law``). An exponent near 0 means a
fixed cost per step dominates (Python, per-node overhead); near 1 in batch, the work per sample;
near 2 in width, the matrix products.
"""

import numpy as np
import pytest

import matrixslow as ms

from . import engine_models
from .numpy_mlp import NumpyMLP
from .settings import pick
from .timing import measure

BATCHES = pick(tuple(2**k for k in range(11)), (1, 4, 16, 64, 256, 1024), tiny=(1, 8))
WIDTHS = pick((64, 128, 256, 512, 1024, 2048), (64, 256, 1024, 2048), tiny=(8, 16))
WIDTH_BATCH = 64
ENGINES = ("matrixslow", "numpy")


def mlp_steps(hidden, batch, seed=0):
    """One Adam step of an MLP 64-hidden-10 on one batch: (matrixslow step, NumPy step)."""
    np.random.seed(seed)
    with ms.core.Graph() as graph:
        model = ms.model.dnn(engine_models.PIXELS, list(hidden), engine_models.CLASSES)
        optimizer = ms.optimizer.Adam(graph, model.loss, engine_models.LEARNING_RATE)
    sizes = (engine_models.PIXELS, *hidden, engine_models.CLASSES)
    twin = NumpyMLP(sizes, np.random.default_rng(seed)).load_matrixslow(engine_models.trainable_values(graph))
    images, labels = engine_models.synthetic_batch(batch, np.random.default_rng(seed))
    engine_models.feed_matrixslow("mlp", model, images, labels)
    x, one_hot = engine_models.twin_inputs("mlp", images, labels)

    def matrixslow_step():
        optimizer.one_step()
        optimizer.update()

    return matrixslow_step, lambda: twin.step(x, one_hot)


def run_case(benchmark, axis, x, model, hidden, batch, engine):
    matrixslow_step, numpy_step = mlp_steps(hidden, batch)
    benchmark.group = f"scaling_{axis}[{x}]"
    benchmark.extra_info.update(kind="scaling", axis=axis, x=x, model=model, batch=batch, engine=engine)
    median = measure(benchmark, matrixslow_step if engine == "matrixslow" else numpy_step)
    benchmark.extra_info["samples_per_second"] = batch / median


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("batch", BATCHES)
def test_step_time_against_batch(benchmark, batch, engine):
    run_case(benchmark, "batch", batch, "mlp-64-64-32-10", (64, 32), batch, engine)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("width", WIDTHS)
def test_step_time_against_width(benchmark, width, engine):
    run_case(benchmark, "width", width, f"mlp-64-w-w-10@{WIDTH_BATCH}", (width, width), WIDTH_BATCH, engine)
