"""The benchmark suite's pytest plugin: run levels, machine info, and the engine summary at the end.

- ``--quick`` (about 2 minutes on 2 cores; the full run about 4) and ``--tiny`` (the CI smoke run:
  every case once, tiny sizes) set ``MATRIXSLOW_BENCH_QUICK`` / ``MATRIXSLOW_BENCH_TINY`` in
  ``pytest_configure``, before any benchmark module is imported (``benchmark/settings.py`` reads them
  at import).
- The saved JSON's ``machine_info`` gets the CPU model from /proc/cpuinfo, the run level and the load
  average at the end of the run, which the report (``python -m benchmark.report``) prints in its header.
- Modules run in ``MODULE_ORDER``: the single-process cases before the multi-process ones.
- The terminal summary prints each matrixslow case's median time as a ratio of its twin's (NumPy,
  scikit-learn) from the same run, and the fitted scaling exponents; the distributed and serving
  modules print their own tables.
"""

import os

from benchmark import machine
from benchmark.stats import engine_ratios, scaling_fits

RATIO_KINDS = ("engine_step", "engine_step_large", "mlp_epoch", "book_loop")


def pytest_addoption(parser):
    group = parser.getgroup("matrixslow benchmarks")
    group.addoption("--quick", action="store_true", help="smaller sizes, fewer rounds (about 2 minutes on 2 cores)")
    group.addoption("--tiny", action="store_true", help="every case once at a tiny size: the CI smoke run")


def pytest_configure(config):
    if config.getoption("--tiny", default=False):
        os.environ["MATRIXSLOW_BENCH_TINY"] = "1"
        os.environ["MATRIXSLOW_BENCH_QUICK"] = "1"
    elif config.getoption("--quick", default=False):
        os.environ["MATRIXSLOW_BENCH_QUICK"] = "1"


# Engine cases first: processes the distributed and serving cases start (MPI, gRPC servers) can take a
# moment to go away, and must not be running while a single-process case is timed.
MODULE_ORDER = (
    "test_operators", "test_engine_step", "test_book_loop", "test_sklearn_mlp", "test_vs_torch", "test_scaling",
    "test_memory", "test_dist_allreduce", "test_dist_ps", "test_dist_training", "test_serving",
)  # fmt: skip


def pytest_collection_modifyitems(session, config, items):
    def rank(item):
        module = item.path.stem
        return MODULE_ORDER.index(module) if module in MODULE_ORDER else len(MODULE_ORDER)

    items.sort(key=rank)  # stable: the order within a module is kept


def pytest_benchmark_update_machine_info(config, machine_info):
    machine_info["cpu_model"] = machine.cpu_model()
    machine_info["cpu_count"] = os.cpu_count()
    machine_info["bench_level"] = machine.run_level()
    machine_info["load_average"] = machine.load_average()  # at the end of the run: how shared the machine was


def _records(session):
    records = []
    for bench in session.benchmarks:
        if bench.has_error or not bench.stats:
            continue
        records.append(
            {
                "group": bench.group, "median": bench.stats.median, "min": bench.stats.min,
                "extra_info": dict(bench.extra_info),
            }
        )  # fmt: skip
    return records


def pytest_terminal_summary(terminalreporter, config):
    session = getattr(config, "_benchmarksession", None)
    if session is None or not session.benchmarks or session.disabled:
        return
    records = _records(session)
    rows = engine_ratios(records, kinds=RATIO_KINDS)
    if rows:
        terminalreporter.write_sep("-", "matrixslow / twin (median times, and fastest rounds; same run)")
        for row in rows:
            terminalreporter.write_line(
                f"{row['group']:<36} matrixslow {row['median'] * 1e3:9.3f} ms   {row['baseline_engine']:<8}"
                f"{row['baseline_median'] * 1e3:9.3f} ms   ratio {row['ratio']:6.2f}x"
                f"   (of minima {row['min_ratio']:5.2f}x)"
            )
    fits = scaling_fits(records)
    if fits:
        terminalreporter.write_sep("-", "scaling: median step time ~ x^exponent (log-log least squares)")
        for fit in fits:
            terminalreporter.write_line(
                f"{fit['axis']:<6} {fit['engine']:<11} {fit['model']:<18} exponent {fit['exponent']:5.2f}"
                f" (r^2 {fit['r2']:.3f}, {fit['points']} points, {fit['x_min']:g}..{fit['x_max']:g});"
                f" upper half {fit['tail_exponent']:5.2f}; of minima {fit['min_exponent']:5.2f}"
            )
