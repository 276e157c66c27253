"""Serving the digits MLP and CNN: single-sample latency and requests/s at 1, 4, 16, 64 clients.

Each model is served twice: "unbatched" (``--max-batch-size 1``: one forward pass per
request) and "batched" (``--max-batch-size 64 --batch-timeout-ms 2``: dynamic batching).
A third server, "noop" (benchmark/grpc_noop_server.py), answers every request with
prepared bytes and computes nothing: the same load against it measures the floor that gRPC
and the load generator set on this machine, whatever the model. The "v2_grpc" and "v2_rest"
rows send the same sample through the Open Inference Protocol (ModelInfer with raw contents;
the REST binary body tritonclient sends) to the unbatched server, so they compare with its row.

The end of the run prints, per model, the batching gain (batched requests/s over
unbatched, same number of clients), the p99 latency beside its target (batch timeout plus
twice the forward time of a full batch) and beside the no-op server's, and the server
overhead: unbatched (v1 and both v2) single-sample p50 minus the bare in-process forward pass of one sample.

Targets (issue 6): at 64 clients batching gives >= 5x the requests/s; at 1 client the
server adds < 1 ms at p50. The load generator runs in this process on the same two cores
as the server; its cost per request is in every figure.

Quick runs (``--quick``) take fewer requests; tiny runs (``--tiny``) only the MLP at 1 and 4 clients.
"""

import contextlib

import numpy as np
import pytest

from . import serving_load
from .settings import pick
from .timing import measure

UNBATCHED = ("--max-batch-size", "1")
# mode -> (server flags, or None for benchmark/grpc_noop_server.py: no model at all; how requests are sent)
MODES = {
    "unbatched": (UNBATCHED, "grpc"),
    "batched": (("--max-batch-size", "64", "--batch-timeout-ms", "2"), "grpc"),
    "noop": (None, "grpc"),
    "v2_grpc": (UNBATCHED, "v2_grpc"),
    "v2_rest": (UNBATCHED, "v2_rest"),
}
# The modes whose request path adds to the bare forward pass, for the overhead lines.
OVERHEAD_MODES = ("unbatched", "v2_grpc", "v2_rest")
# The closed-loop load is gRPC's (futures from one thread); REST has the latency row only.
THROUGHPUT_MODES = [mode for mode, (_, protocol) in MODES.items() if protocol != "v2_rest"]
BATCH_TIMEOUT_MS = 2.0
CLIENTS = pick((1, 4, 16, 64), (1, 4, 16, 64), tiny=(1, 4))
MODELS = pick(tuple(serving_load.MODELS), tuple(serving_load.MODELS), tiny=("mlp",))
LATENCY_ROUNDS = pick(500, 200, tiny=10)
THROUGHPUT_ROUNDS = pick(3, 2, tiny=1)


def requests_per_round(clients):
    return pick(300, 150, tiny=20) if clients == 1 else pick(1500, 600, tiny=40)


@pytest.fixture(scope="module")
def report(request):
    results = {}
    yield results
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is None or capture is None or not results:
        return
    # Module teardown runs under output capture; the summary must reach the terminal (benchmark/conftest.py
    # prints its ratios from a terminal-summary hook, which only a conftest can define).
    with capture.global_and_fixture_disabled():
        for line in summary_lines(results):
            reporter.write_line(line)


@pytest.fixture(scope="module")
def model_dirs(tmp_path_factory):
    root = tmp_path_factory.mktemp("serving-bench")
    return {name: serving_load.export_model(root, name) for name in MODELS}


@pytest.fixture(scope="module")
def servers(model_dirs):
    """(model, mode) -> load generator on a running server, started on first use, all stopped at the end.

    One server process per (model, flags): the v1 and v2 unbatched rows are answered by the same one.
    """
    with contextlib.ExitStack() as stack:
        processes, started = {}, {}

        def addresses(name, flags):
            if (name, flags) not in processes:
                if flags is None:
                    processes[name, flags] = (stack.enter_context(serving_load.noop_server()), None)
                else:
                    processes[name, flags] = stack.enter_context(
                        serving_load.server(model_dirs[name], *flags, http=True)
                    )
            return processes[name, flags]

        def get(name, mode):
            if (name, mode) not in started:
                flags, protocol = MODES[mode]
                grpc_address, http_address = addresses(name, flags)
                if protocol == "v2_rest":
                    generator = serving_load.RestCaller(http_address, name)
                elif protocol == "v2_grpc":
                    payload = serving_load.v2_request_bytes(name)
                    generator = serving_load.LoadGenerator(grpc_address, payload, serving_load.V2_INFER)
                else:
                    generator = serving_load.LoadGenerator(grpc_address, serving_load.request_bytes(name))
                stack.callback(generator.close)
                generator.run(1 if protocol == "v2_rest" else 4, 100)  # warm-up: channel, threads, caches
                started[name, mode] = generator
            return started[name, mode]

        yield get


@pytest.mark.parametrize("batch", [1, 64])
@pytest.mark.parametrize("name", MODELS)
def test_bare_forward(benchmark, model_dirs, report, name, batch):
    forward = serving_load.bare_forward(model_dirs[name], name, batch)
    benchmark.group = f"serving-forward[{name}]"
    benchmark.extra_info.update(kind="serving_forward", model=name, batch=batch)
    report[name, "forward", batch] = measure(benchmark, forward)


@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("name", MODELS)
def test_single_sample_latency(benchmark, servers, report, name, mode):
    generator = servers(name, mode)
    benchmark.group = f"serving-latency[{name}]"
    benchmark.pedantic(
        lambda: generator.call(generator.payload, timeout=60),
        rounds=LATENCY_ROUNDS,
        warmup_rounds=min(20, LATENCY_ROUNDS),
    )
    times = benchmark.stats.stats.sorted_data
    p50, p99 = float(np.percentile(times, 50)), float(np.percentile(times, 99))
    benchmark.extra_info.update(kind="serving_latency", model=name, mode=mode, p50_ms=p50 * 1e3, p99_ms=p99 * 1e3)
    report[name, "latency", mode] = (p50, p99)


@pytest.mark.parametrize("clients", CLIENTS)
@pytest.mark.parametrize("mode", THROUGHPUT_MODES)
@pytest.mark.parametrize("name", MODELS)
def test_throughput(benchmark, servers, report, name, mode, clients):
    generator = servers(name, mode)
    total = requests_per_round(clients)
    latencies = []
    benchmark.group = f"serving-throughput[{name}, {clients} clients]"
    benchmark.extra_info.update(kind="serving_throughput", model=name, mode=mode, clients=clients, requests=total)
    benchmark.pedantic(lambda: latencies.extend(generator.run(clients, total)), rounds=THROUGHPUT_ROUNDS)
    rate = total / benchmark.stats.stats.median
    p50, p99 = float(np.percentile(latencies, 50)), float(np.percentile(latencies, 99))
    benchmark.extra_info.update(requests_per_s=rate, p50_ms=p50 * 1e3, p99_ms=p99 * 1e3)
    report[name, "throughput", mode, clients] = (rate, p99)


def summary_lines(results):
    lines = ["", "-" * 30 + " serving summary (medians of this run) " + "-" * 30]
    for name in MODELS:
        forward_1 = results.get((name, "forward", 1))
        forward_64 = results.get((name, "forward", 64))
        if forward_1 is not None and forward_64 is not None:
            lines.append(
                f"{name}: bare forward pass {forward_1 * 1e3:.3f} ms (1 sample), {forward_64 * 1e3:.3f} ms (64)"
            )
        for mode in MODES:
            latency = results.get((name, "latency", mode))
            if latency is not None:
                lines.append(
                    f"{name} {mode:9}: single-sample p50 {latency[0] * 1e3:.3f} ms, p99 {latency[1] * 1e3:.3f} ms"
                )
        for mode in OVERHEAD_MODES:
            latency = results.get((name, "latency", mode))
            if latency is not None and forward_1 is not None:
                lines.append(
                    f"{name} {mode:9}: server overhead at 1 client (p50 - bare forward) "
                    f"{(latency[0] - forward_1) * 1e3:.3f} ms"
                )
        for clients in CLIENTS:
            unbatched = results.get((name, "throughput", "unbatched", clients))
            batched = results.get((name, "throughput", "batched", clients))
            if unbatched is None or batched is None:
                continue
            gain = batched[0] / unbatched[0]
            line = (
                f"{name} {clients:2} clients: unbatched {unbatched[0]:7.0f} req/s (p99 {unbatched[1] * 1e3:6.1f} ms)  "
                f"batched {batched[0]:7.0f} req/s (p99 {batched[1] * 1e3:6.1f} ms)  gain {gain:4.2f}x"
            )
            if forward_64 is not None:
                line += f"  p99 target {BATCH_TIMEOUT_MS + 2 * forward_64 * 1e3:.1f} ms"
            noop = results.get((name, "throughput", "noop", clients))
            if noop is not None:
                line += f"  | no-op server {noop[0]:7.0f} req/s (p99 {noop[1] * 1e3:6.1f} ms)"
            lines.append(line)
        for clients in CLIENTS:
            v2 = results.get((name, "throughput", "v2_grpc", clients))
            if v2 is not None:
                lines.append(
                    f"{name} {clients:2} clients: v2 gRPC unbatched {v2[0]:7.0f} req/s (p99 {v2[1] * 1e3:6.1f} ms)"
                )
    return lines
