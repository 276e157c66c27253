"""``python -m benchmark.report RUN.json [--out DIR] [--name latest]``: the Markdown report and its charts.

Without ``--out`` the run's level decides: a full run writes the committed ``benchmark/results/latest.md``,
a quick or tiny run ``benchmark/results/quick/latest.md`` or ``.../tiny/latest.md`` (untracked).
"""

import argparse
import sys
from pathlib import Path

from .render import default_directory, render_report
from .run import load_run


def main(argv=None):
    summary, placement = __doc__.split("\n\n", 1)
    parser = argparse.ArgumentParser(
        prog="python -m benchmark.report",
        description=summary.split(":", 1)[1].strip(),
        epilog=placement.replace("``", "").strip(),
    )
    parser.add_argument("run", type=Path, help="a pytest-benchmark JSON file (--benchmark-json)")
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="DIR",
        help="output directory (default: benchmark/results for a full run, benchmark/results/LEVEL/ for a quick "
        "or tiny one)",
    )
    parser.add_argument("--name", default="latest", help="the report's file name, without .md")
    args = parser.parse_args(argv)
    if not args.run.is_file():
        parser.error(f"no benchmark run at {args.run}")
    run = load_run(args.run)
    markdown = render_report(run, args.out if args.out is not None else default_directory(run.level), args.name)
    print(f"wrote {markdown} ({run.level} run)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
