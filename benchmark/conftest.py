"""Prints, after a benchmark run, each matrixslow case's time as a ratio of its plain-NumPy twin.

Cases pair up by benchmark group and ``extra_info["engine"]`` ("matrixslow"
against "numpy"); the ratio of medians is measured in the same run.
"""


def pytest_terminal_summary(terminalreporter, config):
    session = getattr(config, "_benchmarksession", None)
    if session is None or not session.benchmarks:
        return
    medians = {}
    for bench in session.benchmarks:
        if bench.has_error or not bench.stats:
            continue
        medians[(bench.group, bench.extra_info.get("engine"))] = bench.stats.median
    rows = []
    for (group, engine), median in sorted(medians.items()):
        baseline = medians.get((group, "numpy"))
        if engine == "matrixslow" and baseline:
            rows.append((group, median, baseline, median / baseline))
    if not rows:
        return
    terminalreporter.write_sep("-", "matrixslow / NumPy (median time, same run)")
    for group, median, baseline, ratio in rows:
        terminalreporter.write_line(
            f"{group:<28} matrixslow {median * 1e3:8.3f} ms   numpy {baseline * 1e3:8.3f} ms   ratio {ratio:5.2f}x"
        )
