"""The statistics the report prints: twin ratios, batching gains, power-law fits, bus bandwidth."""

import math

import numpy as np
import pytest

from benchmark import stats


def record(group, median, **info):
    return {"group": group, "median": median, "extra_info": info}


def test_engine_ratios_divide_matrixslow_by_each_twin_of_the_same_group():
    records = [
        record("a", 3.0, engine="matrixslow", kind="engine_step"),
        record("a", 2.0, engine="numpy", kind="engine_step"),
        record("b", 10.0, engine="matrixslow", kind="mlp_epoch"),
        record("b", 4.0, engine="numpy", kind="mlp_epoch"),
        record("b", 8.0, engine="sklearn", kind="mlp_epoch"),
        record("c", 1.0, engine="numpy", kind="engine_step"),  # no matrixslow case: no row
        record("d", 1.0, kind="operator"),  # no engine at all
    ]
    rows = stats.engine_ratios(records)
    assert [(row["group"], row["baseline_engine"], row["ratio"]) for row in rows] == [
        ("a", "numpy", 1.5),
        ("b", "numpy", 2.5),
        ("b", "sklearn", 1.25),
    ]
    assert [row["group"] for row in stats.engine_ratios(records, kinds=("mlp_epoch",))] == ["b", "b"]
    assert rows[0]["min_ratio"] is None  # these records have no minima


def test_engine_ratio_of_minima():
    records = [
        {"group": "a", "median": 3.0, "min": 1.0, "extra_info": {"engine": "matrixslow"}},
        {"group": "a", "median": 2.0, "min": 0.5, "extra_info": {"engine": "numpy"}},
    ]
    (row,) = stats.engine_ratios(records)
    assert (row["ratio"], row["min_ratio"]) == (1.5, 2.0)


def test_batching_gain_is_samples_per_second_over_batch_one():
    records = [
        record("x", 0.001, kind="engine_step", model="m", engine="numpy", batch=1),  # 1,000 samples/s
        record("y", 0.004, kind="engine_step", model="m", engine="numpy", batch=32),  # 8,000 samples/s
        record("z", 0.004, kind="engine_step", model="other", engine="numpy", batch=32),  # no batch 1: no rows
    ]
    rows = stats.batching_gains(records)
    assert [(row["batch"], row["gain"]) for row in rows] == [(1, 1.0), (32, 8.0)]
    assert rows[1]["samples_per_second"] == pytest.approx(8000.0)


def test_power_law_fit_recovers_exact_exponent_and_coefficient():
    xs = np.array([1, 2, 4, 8, 16, 1024])
    fit = stats.fit_power_law(xs, 3e-4 * xs**1.7)
    assert fit["exponent"] == pytest.approx(1.7)
    assert fit["coefficient"] == pytest.approx(3e-4)
    assert fit["r2"] == pytest.approx(1.0)


def test_power_law_fit_of_noisy_points_is_the_least_squares_line():
    xs, ys = [1.0, 10.0, 100.0], [1.0, 100.0, 1000.0]  # log10: (0, 0), (1, 2), (2, 3)
    fit = stats.fit_power_law(xs, ys)
    # slope of the least-squares line through (0, 0), (1, 2), (2, 3): sum(dx dy) / sum(dx^2) = 3 / 2
    assert fit["exponent"] == pytest.approx(1.5)
    assert fit["coefficient"] == pytest.approx(10 ** (5 / 3 - 1.5))  # intercept = mean(y) - slope mean(x)
    assert 0.0 < fit["r2"] < 1.0


@pytest.mark.parametrize(
    "xs, ys",
    [([1, 2], [1, 0]), ([0, 2], [1, 2]), ([3, 3], [1, 2]), ([1, 2, 3], [1, 2])],
    ids=["y0", "x0", "same x", "lengths"],
)
def test_power_law_fit_rejects_what_has_no_log_log_line(xs, ys):
    with pytest.raises(ValueError, match="fit_power_law"):
        stats.fit_power_law(xs, ys)


def test_scaling_fits_group_by_axis_engine_and_model_with_an_upper_half_exponent():
    records = [
        record("g", 1e-3 + 1e-5 * x, kind="scaling", axis="batch", x=x, engine="matrixslow", model="m")
        for x in (1, 4, 16, 64, 256, 1024)
    ] + [record("w", 2e-6 * w**2, kind="scaling", axis="width", x=w, engine="numpy", model="m") for w in (64, 128)]
    batch, width = stats.scaling_fits(records)
    assert (batch["axis"], batch["points"], batch["x_min"], batch["x_max"]) == ("batch", 6, 1, 1024)
    # a fixed cost plus a linear one: the overall exponent is well below 1, the upper half's much nearer 1
    expected_tail = np.polyfit(np.log([64, 256, 1024]), np.log([1e-3 + 1e-5 * x for x in (64, 256, 1024)]), 1)[0]
    assert batch["tail_exponent"] == pytest.approx(expected_tail)
    assert batch["exponent"] < batch["tail_exponent"]
    assert width["exponent"] == pytest.approx(2.0) and width["tail_exponent"] == pytest.approx(2.0)
    assert batch["min_exponent"] is None  # these records have no minima


def test_scaling_fit_of_minima_ignores_a_disturbed_median():
    clean = {64: 1.0, 128: 4.0, 256: 16.0}  # time ~ width^2
    records = [
        {"group": "w", "median": 1000.0 if w == 256 else t, "min": t, "extra_info": info}
        for w, t in clean.items()
        for info in [{"kind": "scaling", "axis": "width", "x": w, "engine": "matrixslow", "model": "m"}]
    ]
    (fit,) = stats.scaling_fits(records)
    assert fit["min_exponent"] == pytest.approx(2.0)
    assert fit["exponent"] != pytest.approx(2.0, abs=0.1)


def test_bus_bandwidth_counts_two_n_minus_one_over_n_of_the_payload():
    assert stats.bus_bandwidth(3_000_000, 3, 2.0) == pytest.approx(2 * 2 / 3 * 3_000_000 / 2.0)
    assert stats.bus_bandwidth(1, 1, 1.0) == 0.0


def test_percentile_interpolates_linearly():
    assert stats.percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5
    assert stats.percentile(list(range(101)), 99) == 99.0
    assert math.isclose(stats.percentile([0.0, 10.0], 99), 9.9)
    with pytest.raises(ValueError):
        stats.percentile([], 50)
