"""The report's Markdown sections, one function each; a section with nothing measured returns no lines."""

from collections import defaultdict

from .. import stats


def table(headers, rows):
    """A Markdown table; numbers must already be formatted."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return lines


def ms(seconds):
    return f"{seconds * 1e3:.3g}" if seconds >= 1e-3 else f"{seconds * 1e3:.3f}"


def ratio(value):
    return f"{value:.2f}x"


def rate(value):
    return f"{value:,.0f}"


def engine_vs_numpy(run):
    rows = stats.engine_ratios(run.records, kinds=("engine_step", "engine_step_large"))
    if not rows:
        return []
    body = [
        (
            row["extra_info"].get("model", row["group"]),
            row["extra_info"].get("batch", ""),
            row["extra_info"].get("dtype", "float64"),
            ms(row["median"]),
            ms(row["baseline_median"]),
            ratio(row["ratio"]),
            ratio(row["min_ratio"]) if row["min_ratio"] else "-",
        )
        for row in sorted(
            rows,
            key=lambda row: (
                row["extra_info"].get("kind"),
                row["extra_info"].get("model", ""),
                row["extra_info"].get("batch", 0),
            ),
        )
    ]
    return [
        "## One training step: matrixslow vs NumPy",
        "",
        "Forward, backward and Adam update of one batch; the NumPy twin does the same computation from the same "
        "weights (checked by tests/benchmark/test_numpy_models.py). Ratio = matrixslow median / NumPy median "
        "(> 1: matrixslow is slower); the ratio of the fastest rounds is less disturbed by other load on a shared "
        "machine.",
        "",
        *table(["model", "batch", "dtype", "matrixslow ms", "NumPy ms", "ratio", "ratio of minima"], body),
        "",
    ]


def engine_vs_sklearn(run):
    records = run.of_kind("mlp_epoch")
    if not records:
        return []
    by_solver = defaultdict(dict)
    for record in records:
        by_solver[record["extra_info"]["solver"]][record["extra_info"]["engine"]] = record
    body = []
    for solver, engines in sorted(by_solver.items()):
        mine, numpy, sklearn = (engines.get(name) for name in ("matrixslow", "numpy", "sklearn"))
        cells = [ms(record["median"]) if record else "-" for record in (mine, numpy, sklearn)]
        versus = [ratio(mine["median"] / other["median"]) if mine and other else "-" for other in (sklearn, numpy)]
        samples = (mine or numpy or sklearn)["extra_info"].get("samples", "")
        body.append((solver, samples, *cells, *versus))
    return [
        "## One epoch of the digits MLP: matrixslow vs scikit-learn",
        "",
        "MLP 64-64-32-10, batch 32, same solver settings, no L2 penalty; scikit-learn's `MLPClassifier."
        "partial_fit` is one epoch (its ReLU is not leaky). Ratio = matrixslow median / other median.",
        "",
        *table(
            ["solver", "samples", "matrixslow ms", "NumPy ms", "scikit-learn ms", "vs scikit-learn", "vs NumPy"], body
        ),
        "",
    ]


TORCH_HINT = (
    "PyTorch did not run: install the compare extra, `pip install -e '.[compare]'` (the CPU build of torch), "
    "or run `tox -e bench-compare`."
)


def versus_torch(run):
    records = run.of_kind("vs_torch")
    if not records:
        return []
    by_task = defaultdict(dict)  # in the run's order, the book's
    for record in records:
        by_task[record["extra_info"]["model"]][record["extra_info"]["engine"]] = record
    body = []
    for task, engines in by_task.items():
        info = next(iter(engines.values()))["extra_info"]
        mine, torch = (info["batch"] / engines[e]["median"] if e in engines else None for e in ("matrixslow", "torch"))
        cells = [rate(samples) if samples else "-" for samples in (mine, torch)]
        body.append((info.get("title", task), info["batch"], *cells, ratio(mine / torch) if mine and torch else "-"))
    torch_cases = [record["extra_info"] for record in records if record["extra_info"]["engine"] == "torch"]
    note = TORCH_HINT
    if torch_cases:
        version, threads = torch_cases[0].get("torch_version", "?"), torch_cases[0].get("threads", "?")
        note = (
            f"PyTorch {version} ran on {threads} threads, as many as NumPy's BLAS; its threads meet at every "
            "parallel operation, so other load on the machine (see the load average above) slows it far more "
            "than matrixslow."
        )
    return [
        "## matrixslow vs PyTorch CPU",
        "",
        "The book's four tasks (benchmark/book_tasks.py), one training step per round: both start from the same "
        "weights and train with Adam in float64 on the same batches in the same order (checked by "
        "tests/benchmark/test_torch_twins.py). Samples/s = batch / median step. Ratio = matrixslow samples/s / "
        f"PyTorch samples/s (> 1: matrixslow is faster). {note}",
        "",
        *table(["task", "batch", "matrixslow samples/s", "PyTorch samples/s", "ratio"], body),
        "",
    ]


def book_loops(run):
    rows = stats.engine_ratios(run.records, kinds=("book_loop",))
    if not rows:
        return []
    body = [
        (row["extra_info"]["model"], ms(row["median"]), ms(row["baseline_median"]), ratio(row["ratio"]))
        for row in sorted(rows, key=lambda row: row["extra_info"]["model"])
    ]
    return [
        "## The book's per-sample loops: values readable as `.A`",
        "",
        "The book's own loops (chapter 2's ADALINE trained by hand, chapter 5's evaluation), one sample at a "
        "time, with `node.forward()`, which leaves every value it computed answering `.A`/`.A1`, beside the same "
        "loop on plain values (`benchmark/book_loops.py`). Ratio = forward() median / plain median. The engine's "
        "own training step never wraps (see the first table).",
        "",
        *table(["loop", "forward() ms", "plain values ms", "ratio"], body),
        "",
    ]


def batching_gain(run):
    rows = stats.batching_gains(run.records)
    if not rows:
        return []
    batches = sorted({row["batch"] for row in rows})
    series = defaultdict(dict)
    for row in rows:
        series[(row["model"], row["engine"])][row["batch"]] = row
    body = []
    for (model, engine), by_batch in sorted(series.items()):
        cells = [rate(by_batch[b]["samples_per_second"]) if b in by_batch else "-" for b in batches]
        gains = [ratio(by_batch[b]["gain"]) if b in by_batch else "-" for b in batches if b != 1]
        body.append((model, engine, *cells, *gains))
    headers = ["model", "engine", *[f"samples/s @{b}" for b in batches], *[f"gain @{b}" for b in batches if b != 1]]
    return [
        "## Batching gain",
        "",
        "Training samples per second at each batch size, and the gain over batch 1 (same run).",
        "",
        *table(headers, body),
        "",
    ]


def operators(run):
    records = run.of_kind("operator")
    if not records:
        return []
    sizes = sorted({record["extra_info"]["size"] for record in records})
    by_operator = defaultdict(dict)
    for record in records:
        by_operator[record["extra_info"]["operator"]][record["extra_info"]["size"]] = record
    body = []
    for operator, by_size in by_operator.items():
        cells = [f"{by_size[size]['median'] * 1e6:.1f}" if size in by_size else "-" for size in sizes]
        largest = by_size.get(sizes[-1])
        throughput = largest["extra_info"].get("elements_per_second") if largest else None
        body.append((operator, *cells, f"{throughput / 1e6:.1f}" if throughput else "-"))
    batch = records[0]["extra_info"].get("batch", "?")
    return [
        "## Operators: forward + backward",
        "",
        f"Median microseconds to recompute one operator on a batch of {batch} n x n matrices and its gradient to "
        "every input.",
        "",
        *table(["operator", *[f"n={size} us" for size in sizes], f"M elements/s @n={sizes[-1]}"], body),
        "",
    ]


def scaling(run):
    fits = stats.scaling_fits(run.records)
    if not fits:
        return []
    body = [
        (
            fit["axis"], fit["model"], fit["engine"], f"{fit['x_min']:g}..{fit['x_max']:g}", fit["points"],
            f"{fit['exponent']:.2f}", f"{fit['r2']:.3f}", f"{fit['tail_exponent']:.2f}",
            f"{fit['min_exponent']:.2f}" if fit["min_exponent"] is not None else "-",
        )
        for fit in fits
    ]  # fmt: skip
    return [
        "## Scaling",
        "",
        "Median step time ~ x^exponent, fitted by least squares on log-log axes; 'upper half' fits the larger half "
        "of x only; 'of minima' fits the fastest round of each case instead of its median (steadier on a shared "
        "machine). Near 0: a fixed cost per step dominates; 1 in batch: cost per sample; 2 in width: the matrix "
        "products.",
        "",
        *table(["axis", "model", "engine", "range", "points", "exponent", "r^2", "upper half", "of minima"], body),
        "",
        "![throughput vs batch size](throughput_vs_batch.png)" if run.of_kind("scaling") else "",
        "",
    ]


def distributed_training(run):
    records = run.of_kind("dist_training")
    if not records:
        return []
    single = {
        r["extra_info"]["model"]: r["extra_info"]["samples_per_second"]
        for r in records
        if r["extra_info"]["workers"] == 1
    }
    body = []
    for record in records:
        info = record["extra_info"]
        compute, comm = info["compute_ms_per_step"], info["comm_ms_per_step"]
        speedup = info["samples_per_second"] / single[info["model"]] if info["model"] in single else None
        body.append(
            (
                info["model"], info["setup"], info["workers"], rate(info["samples_per_second"]),
                ratio(speedup) if speedup else "-", f"{compute:.2f}", f"{comm:.2f}",
                f"{comm / (compute + comm):.0%}" if compute + comm > 0 else "-",
            )
        )  # fmt: skip
    epochs = records[0]["extra_info"].get("epochs", "?")
    return [
        "## Distributed training",
        "",
        f"Digits MLP and CNN, {epochs} epochs, batch 32 per worker; samples/s over all workers (median epoch, "
        "slowest worker). A step is split into compute (forward, backward, update) and communication (allreduce, "
        "or push + pull, including waiting for the slower worker).",
        "",
        *table(
            ["model", "setup", "workers", "samples/s", "vs single", "compute ms/step", "comm ms/step", "comm share"],
            body,
        ),
        "",
    ]


def size_label(nbytes):
    return f"{nbytes / 2**20:g} MiB" if nbytes >= 2**20 else f"{nbytes / 1024:g} KiB"


def allreduce(run):
    records = run.of_kind("allreduce")
    if not records:
        return []
    backends = sorted({record["extra_info"]["backend"] for record in records})
    cells = defaultdict(dict)
    for record in records:
        info = record["extra_info"]
        cells[(info["world_size"], info["bytes"])][info["backend"]] = info["bus_bandwidth_GBps"]
    body = [
        (world, size_label(nbytes), *[f"{row[b]:.3f}" if b in row else "-" for b in backends])
        for (world, nbytes), row in sorted(cells.items())
    ]
    return [
        "## Allreduce bus bandwidth",
        "",
        "GB/s = 2 (N - 1) / N x payload / median time (slowest process per repetition). grpc is matrixslow's ring, "
        "grpc-ceiling moves the same bytes round the same ring over gRPC with nothing added or awaited "
        "(benchmark/grpc_ring_ceiling.py: the most a Python gRPC ring could reach here), "
        "mpi is MPI over loopback TCP, mpi-shm MPI over shared memory.",
        "",
        *table(["processes", "payload", *[f"{b} GB/s" for b in backends]], body),
        "",
        "![bandwidth vs payload](bandwidth_vs_payload.png)",
        "",
    ]


def parameter_server(run):
    records = run.of_kind("ps")
    if not records:
        return []
    body = [
        (
            size_label(r["extra_info"]["bytes"]), r["extra_info"]["shards"], r["extra_info"]["workers"],
            f"{r['extra_info']['throughput_MBps']:.1f}", ms(r["median"]),
            f"{r['extra_info']['push_share']:.0%}" if "push_share" in r["extra_info"] else "-",
            f"{r['extra_info']['busy_cores']:.2f}" if r["extra_info"].get("busy_cores") is not None else "-",
        )
        for r in sorted(run.of_kind("ps"), key=lambda r: (r["extra_info"]["bytes"], r["extra_info"]["shards"]))
    ]  # fmt: skip
    return [
        "## Parameter server push + pull",
        "",
        "One synchronous step: every worker pushes its gradients and pulls the mean. MB/s = model bytes / median step. "
        "Busy cores: the machine's cores busy on average (any process) over the timed steps.",
        "",
        *table(["model", "shards", "workers", "MB/s", "step ms", "push share", "busy cores"], body),
        "",
    ]


def serving(run):
    latency, throughput = run.of_kind("serving_latency"), run.of_kind("serving_throughput")
    forward = run.of_kind("serving_forward")
    if not (latency or throughput or forward):
        return []
    lines = ["## Serving", ""]
    if forward or latency:
        bare = {r["extra_info"]["model"]: r["median"] for r in forward if r["extra_info"]["batch"] == 1}
        body = [
            (r["extra_info"]["model"], f"in-process forward, batch {r['extra_info']['batch']}", ms(r["median"]), "-",
             "-")
            for r in forward
        ] + [
            (r["extra_info"]["model"], f"one request, {r['extra_info']['mode']}", f"{r['extra_info']['p50_ms']:.3f}",
             f"{r['extra_info']['p99_ms']:.3f}", _overhead(r, bare))
            for r in latency
        ]  # fmt: skip
        lines += [
            "Single-sample latency (ms) at one client, beside the bare forward pass; v2_grpc and v2_rest are the "
            "Open Inference Protocol (ModelInfer with raw contents; tritonclient's binary REST body) on the "
            "unbatched server. Overhead: p50 minus the bare forward pass of one sample.",
            "",
        ]
        lines += [*table(["model", "what", "p50 ms (median)", "p99 ms", "overhead ms"], body), ""]
    if throughput:
        cells = defaultdict(dict)
        for r in throughput:
            cells[(r["extra_info"]["model"], r["extra_info"]["clients"])][r["extra_info"]["mode"]] = r["extra_info"]
        body = []
        for (model, clients), modes in sorted(cells.items()):
            off, on, noop = modes.get("unbatched"), modes.get("batched"), modes.get("noop")
            gain = ratio(on["requests_per_s"] / off["requests_per_s"]) if on and off else "-"
            body.append(
                (
                    model, clients,
                    *_rate_and_p99(off), *_rate_and_p99(on), gain, *_rate_and_p99(noop),
                    *_rate_and_p99(modes.get("v2_grpc")),
                )
            )  # fmt: skip
        header = ["model", "clients", "unbatched req/s", "p99 ms", "batched req/s", "p99 ms", "batching gain"]
        lines += [
            "Closed-loop load: `clients` requests in flight; requests/s and p99 latency, dynamic batching off and on, "
            "and a no-op gRPC server (benchmark/grpc_noop_server.py: prepared answers, no model) under the same load: "
            "the most gRPC and the load generator allow on this machine; v2 gRPC: the same load as v2 ModelInfer "
            "requests to the unbatched server.",
            "",
            *table([*header, "no-op req/s", "p99 ms", "v2 gRPC unbatched req/s", "p99 ms"], body),
            "",
            "![latency vs concurrency](latency_vs_concurrency.png)",
            "",
        ]
    return lines


def _overhead(latency_record, bare):
    """p50 of a single-sample request minus the bare forward pass of one sample of its model, in ms."""
    info = latency_record["extra_info"]
    forward = bare.get(info["model"])
    # The no-op server runs no model: its p50 minus a forward pass is no overhead of anything.
    return "-" if forward is None or info["mode"] == "noop" else f"{info['p50_ms'] - forward * 1e3:.3f}"


def _rate_and_p99(info):
    return (rate(info["requests_per_s"]), f"{info['p99_ms']:.1f}") if info else ("-", "-")


def memory(run):
    records = sorted(run.of_kind("memory"), key=lambda r: r["extra_info"]["batch"])
    if not records:
        return []
    body = [
        (
            r["extra_info"]["batch"], f"{r['extra_info']['peak_rss_MiB']:.1f}",
            f"{r['extra_info']['training_rss_MiB']:.1f}", f"{r['extra_info']['traced_peak_MiB']:.1f}", ms(r["median"]),
        )
        for r in records
    ]  # fmt: skip
    return [
        "## Memory: training the digits CNN",
        "",
        "One fresh process per batch size. Peak RSS: the kernel's high-water mark of resident memory (VmHWM, reset "
        "once model and data are loaded) over the training steps; 'training adds': that minus the resident memory "
        "before them; traced peak: `tracemalloc` peak of live NumPy and Python allocations during one step "
        "(benchmark/memory_worker.py explains the method).",
        "",
        *table(["batch", "peak RSS MiB", "training adds MiB", "traced peak MiB", "step ms"], body),
        "",
    ]


SECTIONS = (
    engine_vs_numpy, engine_vs_sklearn, versus_torch, book_loops, batching_gain, operators, scaling,
    distributed_training, allreduce, parameter_server, serving, memory,
)  # fmt: skip
