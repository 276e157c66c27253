"""``python -m reference_checks``: the progress bar shows on a terminal only (or with ``--progress``)."""

import io
import sys

import pytest

import reference_checks.__main__ as entry
from reference_checks.table import RowResult, Side


class Terminal(io.StringIO):
    """A stderr that says it is a terminal."""

    def isatty(self):
        return True


def made_up_row(name):
    ours, theirs = Side("matrixslow"), Side("baseline")
    ours.add({"Accuracy": 0.9}, 1.0)
    theirs.add({"Accuracy": 0.8}, 0.5)
    return RowResult(name, "m", "d", ("Accuracy",), (0,), 1, ours, [theirs])


@pytest.fixture
def quick_table(monkeypatch):
    """``main`` over made-up rows: the table's progress callback runs, nothing is trained."""

    def run_table(names, quick=False, progress=None):
        for name in names:
            progress(name)
        return [made_up_row(name) for name in names]

    monkeypatch.setattr(entry, "run_table", run_table)
    return list(entry.ROWS)[:2]


@pytest.mark.parametrize(
    ("stderr", "flags", "bar"),
    [
        (io.StringIO, [], False),  # redirected to a file or a pipe: no bar, no carriage returns
        (Terminal, [], True),
        (io.StringIO, ["--progress"], True),
        (Terminal, ["--no-progress"], False),
    ],
)
def test_the_progress_bar_shows_on_a_terminal_or_when_asked(quick_table, monkeypatch, capsys, stderr, flags, bar):
    monkeypatch.setattr(sys, "stderr", stderr())
    assert entry.main(["--rows", *quick_table, *flags]) == 0
    written = sys.stderr.getvalue()
    assert ("reference rows" in written) == bar
    assert ("\r" in written) == bar
    assert "2 of 2 rows pass." in capsys.readouterr().out
