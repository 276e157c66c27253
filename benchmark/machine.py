"""The machine a run measured: CPU model, load and run level, for the saved JSON and the report header."""

import os
from pathlib import Path


def cpu_model(cpuinfo=Path("/proc/cpuinfo")):
    """The "model name" line of /proc/cpuinfo, or "unknown CPU" where there is none."""
    try:
        for line in Path(cpuinfo).read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name":
                return value.strip()
    except OSError:
        pass
    return "unknown CPU"


def run_level():
    from .settings import LEVEL  # read at call time: pytest_configure sets the level after this module loads

    return LEVEL


def load_average():
    """The 1, 5 and 15-minute load averages, or None where the system has none."""
    try:
        return [round(value, 2) for value in os.getloadavg()]
    except OSError:
        return None
