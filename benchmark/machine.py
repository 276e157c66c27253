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


def cpu_times(stat=Path("/proc/stat")):
    """(busy, total) clock ticks of all cores together, from the "cpu" line of /proc/stat; None where there is none.

    Idle and I/O-wait ticks are the idle ones; guest time is left out, the kernel counts it in user time already.
    """
    try:
        fields = Path(stat).read_text().splitlines()[0].split()
    except (OSError, IndexError):
        return None
    if not fields or fields[0] != "cpu":
        return None
    ticks = [int(value) for value in fields[1:9]]  # user nice system idle iowait irq softirq steal
    idle = sum(ticks[3:5])
    return sum(ticks) - idle, sum(ticks)


def busy_cores(before, after, cores=None):
    """How many cores were busy on average between two ``cpu_times`` readings, or None if either is missing."""
    if before is None or after is None or after[1] <= before[1]:
        return None
    cores = os.cpu_count() if cores is None else cores
    return cores * (after[0] - before[0]) / (after[1] - before[1])
