"""A benchmark run as the report reads it: one record per case, and where and when it ran."""

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from ..machine import cpu_model


@dataclass
class Run:
    records: list  # dicts: name, group, median, min, mean, stddev, rounds (seconds) and extra_info
    date: str
    cpu: str
    cores: object
    level: str
    python: str
    commit: str
    load: object = None  # 1, 5, 15-minute load averages at the end of the run, if recorded

    def of_kind(self, kind):
        return [record for record in self.records if record["extra_info"].get("kind") == kind]


def _readable(stamp):
    """ "2026-11-24T20:14:54.18+00:00" -> "2026-11-24 20:14 UTC" (pytest-benchmark stamps runs in UTC)."""
    try:
        moment = datetime.fromisoformat(stamp)
    except (TypeError, ValueError):
        return str(stamp or "unknown date")
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC") if moment.tzinfo else f"{stamp}"


def load_run(path):
    """Read a pytest-benchmark JSON file (``--benchmark-json`` or a saved run)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: not a JSON file ({error})") from None
    if not isinstance(data, dict) or not isinstance(data.get("benchmarks"), list):
        raise ValueError(f"{path}: not a pytest-benchmark run (no 'benchmarks' list)")
    records = []
    for bench in data["benchmarks"]:
        stats = bench.get("stats") or {}
        if "median" not in stats:
            continue  # a case that errored or ran with --benchmark-disable
        records.append(
            {
                "name": bench.get("name", ""),
                "group": bench.get("group") or "",
                **{key: stats.get(key) for key in ("median", "min", "mean", "stddev", "rounds")},
                "extra_info": bench.get("extra_info") or {},
            }
        )
    machine = data.get("machine_info") or {}
    commit = data.get("commit_info") or {}
    commit_id = (commit.get("id") or "")[:10]
    return Run(
        records=records,
        date=_readable(data.get("datetime")),
        # The model the run recorded; a run saved without it (not by this suite) gets this machine's.
        cpu=machine.get("cpu_model") or (machine.get("cpu") or {}).get("brand_raw") or cpu_model(),
        cores=machine.get("cpu_count") or (machine.get("cpu") or {}).get("count") or "?",
        level=machine.get("bench_level", "unknown"),
        python=machine.get("python_version", "?"),
        load=machine.get("load_average"),
        commit=commit_id + (" (with uncommitted changes)" if commit.get("dirty") else "") if commit_id else "unknown",
    )
