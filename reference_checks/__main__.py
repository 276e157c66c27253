"""``python -m reference_checks``: the matrixslow-versus-scikit-learn reference table (``--onnx``: the ONNX rows)."""

import argparse
import sys
from pathlib import Path

from tqdm import tqdm

from .rows import ROWS
from .table import QUICK_SEEDS, SEEDS, run_table, to_json, to_markdown


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m reference_checks",
        description="Train every matrixslow model and its scikit-learn baselines on the same splits, "
        "print the comparison table and check the pass rule (matrixslow >= best baseline - 0.02, "
        "mean over the seeds). Exit status 1 when a row fails.",
    )
    parser.add_argument("--quick", action="store_true", help="one seed and the recipes' quick_epochs")
    parser.add_argument(
        "--out",
        metavar="PATH",
        help="write the table to PATH.md and PATH.json (a file stem, e.g. reference_checks/results/latest; "
        "its directory is created); by default nothing is written",
    )
    parser.add_argument("--rows", nargs="+", metavar="NAME", choices=list(ROWS), help="only these rows: %(choices)s")
    parser.add_argument(
        "--onnx",
        action="store_true",
        help="the ONNX rows instead: every recipe's trained model exported with matrixslow.onnx and run in "
        "onnxruntime against the engine on the test split, float64 and float32 (needs onnx and onnxruntime)",
    )
    parser.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="a progress bar on stderr (default: only when stderr is a terminal, so redirected logs stay clean)",
    )
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    names = args.rows or list(ROWS)
    # disable=None: tqdm draws only when its file is a terminal; its carriage returns would litter a log file.
    disable = None if args.progress is None else not args.progress
    with tqdm(total=len(names), desc="reference rows", file=sys.stderr, disable=disable) as bar:

        def progress(name):
            bar.set_postfix_str(name)
            bar.update()

        markdown, json_text, passed = (_onnx_rows if args.onnx else _table)(args, names, progress)
    print(markdown)
    if args.out:
        stem = Path(args.out)
        stem.parent.mkdir(parents=True, exist_ok=True)
        Path(f"{stem}.md").write_text(markdown, encoding="utf-8")
        Path(f"{stem}.json").write_text(json_text + "\n", encoding="utf-8")
    return 0 if passed else 1


def _table(args, names, progress):
    """(Markdown, JSON, whether every row passes) of the reference table."""
    results = run_table(names, quick=args.quick, progress=progress)
    passed = all(result.passed for result in results)
    return to_markdown(results, quick=args.quick), to_json(results, quick=args.quick), passed


def _onnx_rows(args, names, progress):
    """(Markdown, JSON, whether every row passes) of the ONNX rows."""
    from . import onnx_rows  # only when asked: it needs onnxruntime, which the reference table does not

    rows = onnx_rows.run_rows(names, quick=args.quick, seeds=QUICK_SEEDS if args.quick else SEEDS, progress=progress)
    return onnx_rows.to_markdown(rows), onnx_rows.to_json(rows), all(row.passed for row in rows)


if __name__ == "__main__":
    sys.exit(main())
