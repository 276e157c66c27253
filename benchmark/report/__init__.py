"""Renders a pytest-benchmark JSON run of this suite as a Markdown report with PNG charts.

    python -m benchmark.report RUN.json --out benchmark/results

writes ``latest.md`` (``--name`` changes it) and three charts beside it: throughput against
batch size, allreduce bus bandwidth against payload, serving latency against concurrency.
Every figure comes from the run file; sections of cases the run did not measure are left out.
"""

from .render import render_report
from .run import load_run

__all__ = ["load_run", "render_report"]
