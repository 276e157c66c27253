"""The ONNX rows: every recipe's trained model, exported and run in onnxruntime, against the engine's forward pass.

onnxruntime implements every operator on its own, so equal outputs on the held-out split
check each model's forward pass against a second implementation, beside the reference
table's check of the trained scores against scikit-learn. A row trains its recipe (the
table's seed and epochs), exports ``model.predict`` with ``matrixslow.onnx.export`` and runs
it on the test split twice: in float64, the dtype the recipes train in, and in float32, with
the trained weights copied into the same model built in a float32 graph. A row passes when every
prediction is within ``TOLERANCE`` of the engine's, absolutely and relatively, as
``numpy.allclose(onnx, engine, rtol=TOLERANCE, atol=TOLERANCE)``: |onnx - engine| <= TOLERANCE (1 + |engine|).

float32 is as close as its rounding allows: on the 32 steps of the RNN the engine's float32
predictions are about 1e-6 from its float64 ones, and onnxruntime's up to 2e-6 from the engine's
float32 (the compiled plan computes the RNN's input products as one, which rounds in another order
than one product per step), so the float32 rows also show the engine's own float32 - float64 gap.
The float32 bound, 1e-5, is about 80 float32 epsilons: ten times that rounding, and far below what
a wrong converter gives (a wrong slope or a transposed weight moves predictions by 1e-2 or more).
"""

import json
from dataclasses import asdict, dataclass

import numpy as np
import onnxruntime

import matrixslow as ms
from matrixslow.onnx import export

from . import recipes

TOLERANCE = {"float64": 1e-9, "float32": 1e-5}


@dataclass
class OnnxRow:
    recipe: str
    dtype: str
    samples: int
    max_difference: float  # the largest |onnxruntime - engine| over the test split's predictions
    share: float  # the largest |onnxruntime - engine| / (TOLERANCE (1 + |engine|)): at most 1 to pass
    float32_rounding: float | None = None  # float32 rows: the largest |engine float32 - engine float64|

    @property
    def passed(self):
        return self.share <= 1.0


def check_recipe(name, seed=0, epochs=None):
    """Train the recipe ``name`` (weights, shuffling and split seeded by ``seed``); one ``OnnxRow`` per dtype."""
    recipe = recipes.ALL_RECIPES[name]
    run = recipes.train(recipe, seed, split_seed=seed, epochs=epochs)
    rows = [compare(name, run.model, run.test_inputs, run.predictions)]
    single = in_float32(recipe, seed, run.model)
    predictions = engine_predictions(single, run.test_inputs)
    rows.append(compare(name, single, run.test_inputs, predictions))
    rows[-1].float32_rounding = float(np.abs(predictions.astype(np.float64) - run.predictions).max())
    return rows


def in_float32(recipe, seed, trained):
    """The recipe's model built again in a float32 graph, holding ``trained``'s weights."""
    np.random.seed(seed)
    with ms.core.Graph(dtype=np.float32) as graph:
        model = recipe.build(recipe.load(seed))
    for node in ms.core.get_trainable_variables_from_graph(graph=graph):
        source = trained.predict.graph.get(node.name)
        if source is None:
            raise KeyError(f"{recipe.name}: the trained model has no Variable '{node.name}' to copy into float32")
        node.set_value(source.value)
    return model


def engine_predictions(model, inputs):
    for name, batch in inputs.items():
        model.predict.graph.get(name).set_value(batch)
    return np.array(model.predict.forward())


def onnx_predictions(model, inputs):
    """``model.predict`` exported and run in onnxruntime (one thread: the reference machine's cores are shared)."""
    dtype = model.predict.graph.dtype
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(
        export(model).SerializeToString(), options, providers=["CPUExecutionProvider"]
    )
    (predictions,) = session.run(None, {name: np.asarray(batch, dtype=dtype) for name, batch in inputs.items()})
    return predictions


def compare(name, model, inputs, engine):
    """The row of ``model``: onnxruntime's predictions on ``inputs`` against the ``engine``'s."""
    theirs = onnx_predictions(model, inputs)
    if theirs.shape != engine.shape:
        raise ValueError(f"{name}: onnxruntime predicted shape {theirs.shape}, the engine {engine.shape}")
    dtype = np.dtype(model.predict.graph.dtype).name
    engine = engine.astype(np.float64)
    difference = np.abs(theirs.astype(np.float64) - engine)
    share = difference / (TOLERANCE[dtype] * (1.0 + np.abs(engine)))
    return OnnxRow(name, dtype, len(engine), float(difference.max()), float(share.max()))


def run_rows(names=None, quick=False, seeds=(0,), progress=None):
    """The rows of the recipes ``names`` (default: all), with the quick table's epochs when ``quick``."""
    rows = []
    for name in names or recipes.ALL_RECIPES:
        recipe = recipes.ALL_RECIPES[name]
        epochs = (recipe.quick_epochs or recipe.epochs) if quick else recipe.epochs
        for seed in seeds:
            rows += check_recipe(name, seed, epochs)
        if progress is not None:
            progress(name)
    return rows


def to_markdown(rows):
    lines = [
        "ONNX export: onnxruntime against the engine, trained models on the held-out split; pass when "
        f"|onnx − engine| ≤ tol (1 + |engine|), tol {TOLERANCE['float64']:g} (float64) / {TOLERANCE['float32']:g} "
        "(float32); share: the largest ratio of the difference to that bound.",
        "",
        "| recipe | dtype | samples | max abs difference | share of the bound | engine float32 − float64 | result |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        rounding = "" if row.float32_rounding is None else f"{row.float32_rounding:.3g}"
        lines.append(
            f"| {row.recipe} | {row.dtype} | {row.samples} | {row.max_difference:.3g} | {row.share:.0%} "
            f"| {rounding} | {'pass' if row.passed else '**FAIL**'} |"
        )
    lines += ["", f"{sum(row.passed for row in rows)} of {len(rows)} rows pass."]
    return "\n".join(lines) + "\n"


def to_json(rows):
    records = [{**asdict(row), "tolerance": TOLERANCE[row.dtype], "passed": row.passed} for row in rows]
    return json.dumps({"rows": records}, indent=2)
