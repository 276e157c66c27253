"""Renders a pytest-benchmark JSON run of this suite as a Markdown report with PNG charts.

    python -m benchmark.report RUN.json [--out DIR]

writes ``latest.md`` (``--name`` changes it) and three charts beside it: throughput against
batch size, allreduce bus bandwidth against payload, serving latency against concurrency.
Without ``--out``, a full run's report goes to ``benchmark/results/`` (the committed one) and a
quick or tiny run's to ``benchmark/results/quick/`` or ``benchmark/results/tiny/`` (untracked).
Every figure comes from the run file; sections of cases the run did not measure are left out.
"""

from .render import default_directory, render_report
from .run import load_run

__all__ = ["default_directory", "load_run", "render_report"]
