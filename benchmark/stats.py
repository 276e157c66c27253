"""The statistics the summary and the report print: ratios of twins, batching gains, fitted exponents.

Every function takes *records*: one dict per benchmark case with its ``group``, its ``median`` time
in seconds and its ``extra_info`` (what the case says it measured). ``report.load`` makes them from
a pytest-benchmark JSON file; ``conftest`` from the live session.
"""

import math
from collections import defaultdict

import numpy as np

BASELINE_ENGINES = ("numpy", "sklearn", "plain_values")


def engine_ratios(records, kinds=None):
    """matrixslow's median over each twin's (NumPy, scikit-learn) in the same group.

    ``kinds``, if given, keeps only records whose ``extra_info["kind"]`` is one of them.

    Returns one row per (group, twin): ``group``, ``median``, ``baseline_engine``,
    ``baseline_median``, ``ratio`` (> 1: matrixslow is slower), sorted by group, and, where the
    records have a ``min``, ``min_ratio``: the ratio of the fastest rounds, the least disturbed
    ones on a shared machine.
    """
    by_group = defaultdict(dict)
    for record in records:
        engine = record["extra_info"].get("engine")
        if engine is not None and (kinds is None or record["extra_info"].get("kind") in kinds):
            by_group[record["group"]][engine] = record
    rows = []
    for group in sorted(by_group):
        engines = by_group[group]
        mine = engines.get("matrixslow")
        if mine is None:
            continue
        for baseline in BASELINE_ENGINES:
            other = engines.get(baseline)
            if other is not None and other["median"] > 0:
                rows.append(
                    {
                        "group": group,
                        "median": mine["median"],
                        "baseline_engine": baseline,
                        "baseline_median": other["median"],
                        "ratio": mine["median"] / other["median"],
                        "min_ratio": mine["min"] / other["min"] if mine.get("min") and other.get("min") else None,
                        "extra_info": mine["extra_info"],
                    }
                )
    return rows


def batching_gains(records, kind="engine_step"):
    """Samples/s at each batch size over samples/s at batch 1, per (model, engine).

    Returns rows ``model``, ``engine``, ``batch``, ``samples_per_second``, ``gain``, sorted.
    A (model, engine) measured without batch 1 gets no rows.
    """
    rates = defaultdict(dict)
    for record in records:
        info = record["extra_info"]
        if info.get("kind") == kind and record["median"] > 0:
            rates[(info["model"], info["engine"])][int(info["batch"])] = info["batch"] / record["median"]
    rows = []
    for (model, engine), by_batch in sorted(rates.items()):
        single = by_batch.get(1)
        if single is None:
            continue
        for batch in sorted(by_batch):
            rows.append(
                {
                    "model": model,
                    "engine": engine,
                    "batch": batch,
                    "samples_per_second": by_batch[batch],
                    "gain": by_batch[batch] / single,
                }
            )
    return rows


def fit_power_law(xs, ys):
    """Least squares of log y = exponent * log x + log coefficient.

    Returns ``exponent``, ``coefficient`` and ``r2`` (of the log-log fit). Needs at least two
    distinct positive x and positive y.
    """
    xs, ys = np.asarray(xs, dtype=float), np.asarray(ys, dtype=float)
    if xs.shape != ys.shape or xs.ndim != 1:
        raise ValueError(f"fit_power_law: x and y must be two equally long lists, got shapes {xs.shape}, {ys.shape}")
    if np.any(xs <= 0) or np.any(ys <= 0):
        raise ValueError("fit_power_law: every x and y must be positive (the fit is on their logarithms)")
    if len(np.unique(xs)) < 2:
        raise ValueError(f"fit_power_law: needs at least two distinct x, got {xs.tolist()}")
    log_x, log_y = np.log(xs), np.log(ys)
    exponent, intercept = np.polyfit(log_x, log_y, 1)
    residual = log_y - (exponent * log_x + intercept)
    spread = np.sum((log_y - log_y.mean()) ** 2)
    r2 = 1.0 - np.sum(residual**2) / spread if spread > 0 else 1.0
    return {"exponent": float(exponent), "coefficient": float(math.exp(intercept)), "r2": float(r2)}


def scaling_fits(records, kind="scaling"):
    """A power-law fit of median time against the scaled quantity, per (axis, engine, model).

    Records of ``kind`` say ``axis`` ("batch" or "width"), ``x`` (its value), ``engine`` and
    ``model``. Returns rows with the fit's fields plus ``points``, ``x_min``, ``x_max``,
    ``tail_exponent``: the exponent fitted to the larger half of the x values only (at least two),
    which shows the asymptotic cost once a fixed per-step cost no longer dominates, and, where the
    records have a ``min``, ``min_exponent``: the exponent fitted to the fastest rounds, which a
    burst of other load during one case (it moves that case's median) leaves alone.
    """
    series = defaultdict(list)
    for record in records:
        info = record["extra_info"]
        if info.get("kind") == kind and record["median"] > 0:
            point = (float(info["x"]), record["median"], record.get("min"))
            series[(info["axis"], info["engine"], info["model"])].append(point)
    rows = []
    for (axis, engine, model), points in sorted(series.items()):
        xs = [x for x, _, _ in points]
        if len(set(xs)) < 2:
            continue
        fit = fit_power_law(xs, [median for _, median, _ in points])
        distinct = sorted(set(xs))
        tail_from = distinct[len(distinct) // 2] if len(distinct) >= 4 else distinct[0]
        tail = [(x, median) for x, median, _ in points if x >= tail_from]
        tail_fit = fit_power_law([x for x, _ in tail], [y for _, y in tail])
        minima = [fastest for _, _, fastest in points]
        min_fit = fit_power_law(xs, minima) if all(m is not None and m > 0 for m in minima) else None
        rows.append(
            {
                "axis": axis, "engine": engine, "model": model, **fit, "tail_exponent": tail_fit["exponent"],
                "min_exponent": min_fit["exponent"] if min_fit else None,
                "points": len(points), "x_min": min(xs), "x_max": max(xs),
            }
        )  # fmt: skip
    return rows


def bus_bandwidth(nbytes, world_size, seconds):
    """Bytes per second each link carries in a bandwidth-optimal allreduce: 2 (N - 1) / N x bytes / time."""
    return 2 * (world_size - 1) / world_size * nbytes / seconds


def percentile(values, q):
    """The q-th percentile (0-100) of ``values``, linearly interpolated (NumPy's default)."""
    if len(values) == 0:
        raise ValueError("percentile of no values")
    return float(np.percentile(np.asarray(values, dtype=float), q))
