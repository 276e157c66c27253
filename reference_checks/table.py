"""Run the reference rows over seeds, apply the pass rule, and render the table as Markdown and JSON.

For every seed, the split, the matrixslow weights and the shuffling all come from
that seed, and the baselines get it as their ``random_state``. Both sides are
timed with ``time.perf_counter`` (matrixslow: build, train and score; a baseline:
fit and score; loading the data set is cached and not timed). The pass rule,
per metric: the matrixslow mean is at least the best baseline's mean minus
``TOLERANCE``.
"""

import json
import time
from dataclasses import asdict, dataclass, field

import numpy as np

from . import baselines, recipes
from .rows import ROWS

SEEDS = (0, 1, 2)
QUICK_SEEDS = (0,)
TOLERANCE = 0.02


@dataclass
class Side:
    """One model's results over the seeds: ``scores[metric]`` and ``seconds``, one value per seed."""

    name: str
    scores: dict = field(default_factory=dict)
    seconds: list = field(default_factory=list)

    def add(self, scores, seconds):
        for metric, value in scores.items():
            self.scores.setdefault(metric, []).append(float(value))
        self.seconds.append(float(seconds))

    def mean(self, metric):
        return float(np.mean(self.scores[metric]))

    def std(self, metric):
        return float(np.std(self.scores[metric]))


@dataclass
class RowResult:
    row: str
    model: str
    dataset: str
    metrics: tuple
    seeds: tuple
    epochs: int
    matrixslow: Side
    baselines: list  # of Side

    def best_baseline(self, metric):
        return max(self.baselines, key=lambda side: side.mean(metric))

    def threshold(self, metric):
        return self.best_baseline(metric).mean(metric) - TOLERANCE

    def passes(self, metric):
        return self.matrixslow.mean(metric) >= self.threshold(metric)

    @property
    def passed(self):
        return all(self.passes(metric) for metric in self.metrics)

    def failures(self):
        """One sentence per metric that fails the rule (empty when the row passes)."""
        return [
            f"{self.row}: matrixslow {metric} {self.matrixslow.mean(metric):.4f} < "
            f"{self.best_baseline(metric).name} {self.best_baseline(metric).mean(metric):.4f} - {TOLERANCE}"
            for metric in self.metrics
            if not self.passes(metric)
        ]


def run_row(name, quick=False, seeds=None):
    """Train and fit one row (a key of ``ROWS``) over ``seeds`` (default: ``QUICK_SEEDS`` or ``SEEDS``)."""
    row = ROWS[name]
    recipe = recipes.ALL_RECIPES[row.recipe]
    seeds = tuple(seeds if seeds is not None else (QUICK_SEEDS if quick else SEEDS))
    epochs = (recipe.quick_epochs or recipe.epochs) if quick else recipe.epochs
    ours = Side("matrixslow")
    theirs = [Side(baseline.name) for baseline in row.baselines]
    for seed in seeds:
        recipe.load(seed), row.data_for_baselines(seed)  # load (cached) before the clocks start
        start = time.perf_counter()
        run = recipes.train(recipe, seed, split_seed=seed, epochs=epochs)
        ours.add(run.scores, time.perf_counter() - start)
        for baseline, side in zip(row.baselines, theirs, strict=True):
            start = time.perf_counter()
            scores = baselines.evaluate(baseline, row.data_for_baselines(seed), seed, recipe.scores)
            side.add(scores, time.perf_counter() - start)
    return RowResult(name, row.model, row.dataset, recipe.scores, seeds, epochs, ours, theirs)


def run_table(names=None, quick=False, progress=None):
    """Run the rows ``names`` (default: all of ``ROWS``, in order); ``progress(name)`` is called after each."""
    results = []
    for name in names or ROWS:
        results.append(run_row(name, quick=quick))
        if progress is not None:
            progress(name)
    return results


# -- rendering ---------------------------------------------------------------------------------------
METRIC_NAMES = {"Accuracy": "accuracy", "ROC_AUC": "ROC AUC", "R2": "R²"}


def _score(side, metric):
    return f"{side.mean(metric):.4f} ± {side.std(metric):.4f}"


def _seconds(side):
    return f"{np.mean(side.seconds):.2f} s"


def to_markdown(results, quick=False):
    """The table: one line per row and metric, the baselines side by side in one cell."""
    seeds = sorted({seed for result in results for seed in result.seeds})
    lines = [
        f"Reference table ({'quick' if quick else 'full'}): mean ± std over seeds {seeds}; "
        f"pass when matrixslow ≥ best baseline − {TOLERANCE}. Times are the mean per seed.",
        "",
        "| matrixslow model | data set | metric | matrixslow | time | epochs | scikit-learn baselines (time) "
        "| threshold | result |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for result in results:
        for metric in result.metrics:
            others = "<br>".join(f"{side.name}: {_score(side, metric)} ({_seconds(side)})" for side in result.baselines)
            lines.append(
                f"| {result.model} | {result.dataset} | {METRIC_NAMES[metric]} | {_score(result.matrixslow, metric)} "
                f"| {_seconds(result.matrixslow)} | {result.epochs} | {others} | {result.threshold(metric):.4f} "
                f"| {'pass' if result.passes(metric) else '**FAIL**'} |"
            )
    passed = sum(result.passed for result in results)
    lines += ["", f"{passed} of {len(results)} rows pass."]
    return "\n".join(lines) + "\n"


def to_json(results, quick=False):
    """Every number of the table, per seed, as a JSON string."""
    rows = []
    for result in results:
        record = asdict(result)
        record["summary"] = {
            metric: {
                "matrixslow_mean": result.matrixslow.mean(metric),
                "matrixslow_std": result.matrixslow.std(metric),
                "best_baseline": result.best_baseline(metric).name,
                "best_baseline_mean": result.best_baseline(metric).mean(metric),
                "threshold": result.threshold(metric),
                "passed": result.passes(metric),
            }
            for metric in result.metrics
        }
        record["passed"] = result.passed
        rows.append(record)
    return json.dumps({"quick": quick, "tolerance": TOLERANCE, "rows": rows}, indent=2, ensure_ascii=False)
