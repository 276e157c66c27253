"""The report's three PNG charts (matplotlib, Agg backend): each returns its file name, or None without data."""

from collections import defaultdict

import matplotlib

matplotlib.use("Agg")  # files only; no display needed
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib import ticker  # noqa: E402

FIGSIZE, DPI = (6.0, 3.8), 80  # small files: the PNGs are committed


def _save(figure, axes, directory, name, xlabel, ylabel, title):
    for axis in (axes.xaxis, axes.yaxis):  # plain numbers ("256", "0.5") on log axes, not 2.56x10^2
        if axis.get_scale() == "log":
            axis.set_major_locator(ticker.LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        axis.set_major_formatter(ticker.FuncFormatter(lambda value, _: f"{value:g}"))
        axis.set_minor_formatter(ticker.NullFormatter())
    axes.set_xlabel(xlabel)
    axes.set_ylabel(ylabel)
    axes.set_title(title, fontsize=10)
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(directory / name, dpi=DPI)
    plt.close(figure)
    _shrink(directory / name)
    return name


def _shrink(path):
    """Re-save the PNG with a 64-colour palette: a third of the size, the same picture for line charts."""
    from PIL import Image  # matplotlib's own dependency

    with Image.open(path) as image:
        small = image.convert("RGB").quantize(colors=64)
    small.save(path, optimize=True)


def throughput_vs_batch(run, directory):
    """Training samples/s against batch size (the scaling cases, else the per-model steps)."""
    records = [r for r in run.of_kind("scaling") if r["extra_info"]["axis"] == "batch"] or run.of_kind("engine_step")
    if not records:
        return None
    series = defaultdict(list)
    for record in records:
        info = record["extra_info"]
        series[f"{info['model']} ({info['engine']})"].append((info["batch"], info["batch"] / record["median"]))
    figure, axes = plt.subplots(figsize=FIGSIZE)
    for label, points in sorted(series.items()):
        points.sort()
        axes.loglog([b for b, _ in points], [r for _, r in points], marker="o", label=label)
    return _save(figure, axes, directory, "throughput_vs_batch.png", "batch size", "samples / s", "Training throughput")


def bandwidth_vs_payload(run, directory):
    records = run.of_kind("allreduce")
    if not records:
        return None
    series = defaultdict(list)
    for record in records:
        info = record["extra_info"]
        series[(info["backend"], info["world_size"])].append((info["bytes"], info["bus_bandwidth_GBps"]))
    figure, axes = plt.subplots(figsize=FIGSIZE)
    colours, styles = {}, {}
    for (backend, world_size), points in sorted(series.items()):  # a colour per backend, a dash per world size
        points.sort()
        colour = colours.setdefault(backend, f"C{len(colours)}")
        style = styles.setdefault(world_size, ("-", "--", ":", "-.")[len(styles) % 4])
        axes.semilogx(
            [b / 2**20 for b, _ in points], [g for _, g in points], style, color=colour, marker="o",
            label=f"{backend}, {world_size} procs",
        )  # fmt: skip
    return _save(
        figure, axes, directory, "bandwidth_vs_payload.png", "payload (MiB)", "bus bandwidth (GB/s)", "Allreduce"
    )


def latency_vs_concurrency(run, directory):
    records = run.of_kind("serving_throughput")
    if not records:
        return None
    series = defaultdict(list)
    for record in records:
        info = record["extra_info"]
        for percentile in ("p50", "p99"):
            key = f"{info['model']} {info['mode']} {percentile}"
            series[key].append((info["clients"], info[f"{percentile}_ms"]))
    figure, axes = plt.subplots(figsize=FIGSIZE)
    colours = {}
    for label, points in sorted(series.items()):
        points.sort()
        line_name, percentile = label.rsplit(" ", 1)  # p50 solid, p99 dashed, in one colour per model and mode
        colour = colours.setdefault(line_name, f"C{len(colours)}")
        style = "-" if percentile == "p50" else "--"
        axes.loglog([c for c, _ in points], [m for _, m in points], style, color=colour, marker="o", label=label)
    return _save(
        figure, axes, directory, "latency_vs_concurrency.png", "concurrent clients", "latency (ms)", "Serving latency"
    )


CHARTS = (throughput_vs_batch, bandwidth_vs_payload, latency_vs_concurrency)
