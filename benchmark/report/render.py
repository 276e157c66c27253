"""Assembles the report: header (date, CPU, run level), the sections that have data, the charts."""

from pathlib import Path

from .charts import CHARTS
from .tables import SECTIONS

# The committed report (latest.md and its charts) is a full run's; quick and tiny runs, and runs of an
# unknown level, go to a folder of their own under it, which .gitignore leaves untracked.
RESULTS = Path(__file__).resolve().parents[1] / "results"
UNTRACKED_LEVELS = ("quick", "tiny")

HOW_TO_RUN = (
    "Produced by `tox -e bench` (or `tox -e bench -- --quick`): pytest-benchmark cases in `benchmark/`, rendered by "
    "`python -m benchmark.report`. Times are medians; every ratio compares cases of this same run."
)


def header(run):
    return [
        "# matrixslow benchmarks",
        "",
        f"- Run: {run.date}, {run.level} run, commit {run.commit}",
        f"- Machine: {run.cpu}, {run.cores} logical CPUs, Python {run.python}",
        *(
            [f"- Load average (1, 5, 15 min) at the end of the run: {', '.join(f'{v:g}' for v in run.load)}"]
            if run.load
            else []
        ),
        "",
        HOW_TO_RUN,
        "",
    ]


def default_directory(level):
    """Where a run's report goes without ``--out``: ``benchmark/results`` for a full run, else
    ``benchmark/results/quick``, ``.../tiny`` or ``.../unknown`` (a level this suite does not record)."""
    if level == "full":
        return RESULTS
    return RESULTS / (level if level in UNTRACKED_LEVELS else "unknown")


def render_report(run, directory, name="latest"):
    """Write ``directory/name.md`` and the charts that have data; returns the Markdown path."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    charts = {chart(run, directory) for chart in CHARTS} - {None}
    lines = header(run)
    for section in SECTIONS:
        for line in section(run):
            if line.startswith("![") and line[line.index("(") + 1 : -1] not in charts:
                continue  # a chart without data was not drawn
            lines.append(line)
    if len(lines) == len(header(run)):
        lines += ["No benchmark case of this suite in the run.", ""]
    path = directory / f"{name}.md"
    path.write_text("\n".join(lines).rstrip("\n") + "\n")
    return path
