"""``python -m benchmark.report RUN.json --out DIR [--name latest]``: the Markdown report and its charts."""

import argparse
import sys
from pathlib import Path

from .render import render_report
from .run import load_run


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmark.report", description=__doc__.split(":")[1].strip())
    parser.add_argument("run", type=Path, help="a pytest-benchmark JSON file (--benchmark-json)")
    parser.add_argument("--out", type=Path, default=Path("benchmark/results"), help="output directory")
    parser.add_argument("--name", default="latest", help="the report's file name, without .md")
    args = parser.parse_args(argv)
    if not args.run.is_file():
        parser.error(f"no benchmark run at {args.run}")
    markdown = render_report(load_run(args.run), args.out, args.name)
    print(f"wrote {markdown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
