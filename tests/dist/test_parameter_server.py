"""matrixslow.dist.ps: loopback parameter-server shards with worker threads.

Every server is started on a free port and stopped in a finally block; every thread join,
RPC and pull has a timeout, so a deadlock fails a test in seconds instead of hanging the run.
"""

import contextlib
import re
from concurrent import futures

import grpc
import numpy as np
import pytest

from matrixslow.dist.ps import (
    ASYNC,
    ParameterServer,
    ParameterServerClient,
    StaleGradientError,
    shard_loads,
    shard_variables,
)

WAIT_SECONDS = 30


@contextlib.contextmanager
def shards(count, num_workers, **server_options):
    """``count`` started servers; yields their addresses and the servers."""
    servers = [ParameterServer(num_workers, **server_options) for _ in range(count)]
    try:
        addresses = [server.start() for server in servers]
        yield addresses, servers
    finally:
        for server in servers:
            server.stop()


@contextlib.contextmanager
def clients(addresses, num_workers, **client_options):
    options = {"rpc_timeout": 10.0, "step_timeout": WAIT_SECONDS, **client_options}
    opened = [ParameterServerClient(addresses, worker, **options) for worker in range(num_workers)]
    try:
        yield opened
    finally:
        for client in opened:
            client.close()


def run_workers(count, work):
    """Run ``work(worker)`` on ``count`` threads at once; results in worker order."""
    with futures.ThreadPoolExecutor(max_workers=count) as pool:
        jobs = [pool.submit(work, worker) for worker in range(count)]
        return [job.result(timeout=WAIT_SECONDS) for job in jobs]


def model_variables(seed):
    rng = np.random.default_rng(seed)
    return {
        "Hidden/W": rng.normal(size=(8, 4)),
        "Hidden/b": rng.normal(size=(8, 1)),
        "Output/W": rng.normal(size=(3, 8)).astype(np.float32),
    }


def worker_gradients(worker, step, variables):
    """Integer-valued gradient sums: float64 sums of them are exact, so the mean can be compared exactly."""
    rng = np.random.default_rng(1000 * step + worker)
    return {name: rng.integers(-50, 50, size=value.shape).astype(value.dtype) for name, value in variables.items()}


def expected_mean(gradients, counts):
    """Sample-weighted mean computed by NumPy alone: sum of the sums over the sum of the counts."""
    names = gradients[0].keys()
    total = sum(counts)
    return {
        name: (np.sum([g[name].astype(np.float64) for g in gradients], axis=0) / total).astype(gradients[0][name].dtype)
        for name in names
    }


def train_sync(addresses, num_workers, steps, counts):
    """Every worker inits, then pushes and pulls ``steps`` steps; returns each worker's pulled means."""
    variables = model_variables(0)
    with clients(addresses, num_workers) as connected:
        connected[0].init(variables)

        def work(worker):
            client = connected[worker]
            client.init(model_variables(0))
            pulled = []
            for step in range(steps):
                client.push(step, worker_gradients(worker, step, variables), counts[worker])
                pulled.append(client.pull(step))
            return pulled

        return variables, run_workers(num_workers, work)


def test_init_gives_every_worker_the_first_workers_weights():
    first = model_variables(0)
    with shards(1, 4) as (addresses, _), clients(addresses, 4) as connected:
        received_by_first = connected[0].init(first)
        # The others start from different random weights and must all be overruled.
        received = run_workers(3, lambda index: connected[index + 1].init(model_variables(index + 1)))

    for values in [received_by_first, *received]:
        assert sorted(values) == sorted(first)
        for name, value in first.items():
            assert values[name].dtype == value.dtype
            np.testing.assert_array_equal(values[name], value)


@pytest.mark.parametrize("counts", [[3, 29], [1, 7, 100]], ids=["2 workers", "3 workers"])
def test_sync_pull_is_the_exact_sample_weighted_mean(counts):
    num_workers = len(counts)
    with shards(1, num_workers) as (addresses, _):
        variables, pulled = train_sync(addresses, num_workers, steps=2, counts=counts)

    for step in range(2):
        gradients = [worker_gradients(worker, step, variables) for worker in range(num_workers)]
        expected = expected_mean(gradients, counts)
        # The unweighted mean of per-worker means differs: the test can tell the two apart.
        naive = np.mean([g["Hidden/W"] / c for g, c in zip(gradients, counts, strict=True)], axis=0)
        assert not np.allclose(naive, expected["Hidden/W"])
        for worker in range(num_workers):
            means, total = pulled[worker][step]
            assert total == sum(counts)
            for name, value in expected.items():
                assert means[name].dtype == value.dtype
                np.testing.assert_array_equal(means[name], value)


@pytest.mark.parametrize("max_threads", [None, 2], ids=["default pool", "2 server threads"])
def test_sixteen_workers_finish_sync_steps_without_deadlock(max_threads):
    # With 2 server threads and 16 workers, a Pull that held its thread until the step completed
    # would starve the pushes it waits for; long-polls give the thread back.
    num_workers, steps = 16, 3
    counts = [worker + 1 for worker in range(num_workers)]
    with shards(2, num_workers, max_threads=max_threads, long_poll_seconds=0.05) as (addresses, _):
        variables, pulled = train_sync(addresses, num_workers, steps=steps, counts=counts)

    for step in range(steps):
        gradients = [worker_gradients(worker, step, variables) for worker in range(num_workers)]
        expected = expected_mean(gradients, counts)
        for worker in range(num_workers):
            for name, value in expected.items():
                np.testing.assert_array_equal(pulled[worker][step][0][name], value)


def test_sync_pull_times_out_naming_the_workers_that_did_not_push():
    variables = model_variables(0)
    with shards(1, 3, long_poll_seconds=0.1) as (addresses, _), clients(addresses, 3, step_timeout=0.5) as connected:
        for client in connected:
            client.init(variables)
        for worker in (0, 2):
            connected[worker].push(0, worker_gradients(worker, 0, variables), 5)
        with pytest.raises(TimeoutError, match=re.escape("workers [1] to push")):
            connected[0].pull(0)


def test_sync_server_with_learning_rate_applies_the_mean():
    variables = model_variables(0)
    counts = [2, 6]
    with shards(1, 2, learning_rate=0.25) as (addresses, _), clients(addresses, 2) as connected:
        for client in connected:
            client.init(variables)
        gradients = [worker_gradients(worker, 0, variables) for worker in range(2)]
        run_workers(2, lambda worker: connected[worker].push(0, gradients[worker], counts[worker]))
        values, step = connected[1].pull_values()

    assert step == 1
    mean = expected_mean(gradients, counts)
    for name, value in variables.items():
        np.testing.assert_allclose(values[name], value - 0.25 * mean[name].astype(np.float64), rtol=1e-6)


def test_async_applies_each_push_on_arrival():
    variables = {"w": np.array([[1.0, 2.0], [3.0, 4.0]])}
    grad_a = np.array([[4.0, 8.0], [0.0, -4.0]])
    grad_b = np.array([[1.0, 1.0], [1.0, 1.0]])
    # Two workers, but worker 1 never pushes: asynchronous mode must not wait for it.
    with shards(1, 2, mode=ASYNC, learning_rate=0.5) as (addresses, _), clients(addresses, 2) as connected:
        for client in connected:
            client.init(variables)
        assert connected[0].push(0, {"w": grad_a}, 4) == 1
        after_one, step_one = connected[1].pull_values()
        assert connected[0].push(1, {"w": grad_b}, 1) == 2
        after_two, step_two = connected[1].pull_values()

    assert (step_one, step_two) == (1, 2)
    np.testing.assert_array_equal(after_one["w"], [[0.5, 1.0], [3.0, 4.5]])
    np.testing.assert_array_equal(after_two["w"], [[0.0, 0.5], [2.5, 4.0]])


def test_async_rejects_a_push_more_than_max_staleness_steps_behind():
    variables = {"w": np.zeros((2, 2))}
    ones = {"w": np.ones((2, 2))}
    with (
        shards(1, 2, mode=ASYNC, learning_rate=1.0, max_staleness=1) as (addresses, _),
        clients(addresses, 2) as connected,
    ):
        connected[0].init(variables)
        connected[1].init(variables)
        connected[0].push(0, ones, 1)
        connected[0].push(1, ones, 1)
        # Worker 1 computed against step 0; the server is at step 2: two steps behind.
        with pytest.raises(StaleGradientError, match="2 steps behind") as caught:
            connected[1].push(0, ones, 1)
        assert caught.value.server_step == 2
        # One step behind is within the bound and applied.
        assert connected[1].push(1, ones, 1) == 3
        values, _ = connected[1].pull_values()

    np.testing.assert_array_equal(values["w"], -3 * np.ones((2, 2)))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda v: {**v, "Hidden/W": v["Hidden/W"].T},
            "variable 'Hidden/W': worker 1 sends (4, 8) float64 in its variables, but the server holds (8, 4) float64",
        ),
        (
            lambda v: {**v, "Output/W": v["Output/W"].astype(np.float64)},
            "variable 'Output/W': worker 1 sends (3, 8) float64 in its variables, but the server holds (3, 8) float32",
        ),
        (
            lambda v: {"Hidden/V": v["Hidden/W"], "Hidden/b": v["Hidden/b"], "Output/W": v["Output/W"]},
            "missing ['Hidden/W'], unexpected ['Hidden/V']",
        ),
    ],
    ids=["shape", "dtype", "name"],
)
def test_mismatched_variables_give_invalid_argument_naming_the_variable(change, message):
    variables = model_variables(0)
    with shards(1, 2) as (addresses, _), clients(addresses, 2) as connected:
        connected[0].init(variables)
        with pytest.raises(grpc.RpcError) as caught:
            connected[1].init(change(variables))

    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert message in caught.value.details()


def test_pushing_a_step_twice_is_refused():
    variables = {"w": np.zeros(3)}
    with shards(1, 2) as (addresses, _), clients(addresses, 2) as connected:
        connected[0].init(variables)
        connected[0].push(0, {"w": np.ones(3)}, 1)
        with pytest.raises(grpc.RpcError) as caught:
            connected[0].push(0, {"w": np.ones(3)}, 1)

    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "worker 0 already pushed step 0" in caught.value.details()


def test_sharding_balances_bytes_within_the_largest_variable_of_the_ideal_share():
    rng = np.random.default_rng(3)
    for num_shards in (2, 3, 5):
        sizes = rng.integers(1, 5000, size=40)
        variables = {f"v{index}": ((int(size),), "float32") for index, size in enumerate(sizes)}
        plan = shard_variables(variables, num_shards)
        assert sorted(plan) == sorted(variables)
        loads = shard_loads(variables, plan, num_shards)
        total_bytes = 4 * int(sizes.sum())
        assert sum(loads) == total_bytes
        assert max(loads) <= total_bytes / num_shards + 4 * int(sizes.max())


def test_sharding_weighs_bytes_not_element_counts():
    # 100 float64 elements (800 B) outweigh 150 float32 ones (600 B); by element count "c" would go first
    # and "a" and "b" would share a shard.
    variables = {"a": np.zeros(100), "b": np.zeros(100), "c": np.zeros(150, np.float32), "d": np.zeros(50)}
    assert shard_variables(variables, 2) == {"a": 0, "b": 1, "c": 0, "d": 1}
    assert shard_loads(variables, shard_variables(variables, 2), 2) == [1400, 1200]


def test_two_shards_give_the_same_means_as_one():
    counts = [4, 9]
    with shards(1, 2) as (addresses, _):
        _, one_shard = train_sync(addresses, 2, steps=2, counts=counts)
    with shards(2, 2) as (addresses, servers):
        _, two_shards = train_sync(addresses, 2, steps=2, counts=counts)
        held = [sorted(server.state.values([])[0]) for server in servers]

    # The variables really are split: each shard holds some and none holds all.
    assert all(held) and sorted(held[0] + held[1]) == ["Hidden/W", "Hidden/b", "Output/W"]
    for worker in range(2):
        for step in range(2):
            (means_one, total_one), (means_two, total_two) = one_shard[worker][step], two_shards[worker][step]
            assert total_one == total_two == sum(counts)
            assert sorted(means_one) == sorted(means_two)
            for name in means_one:
                np.testing.assert_array_equal(means_one[name], means_two[name])


def test_a_64_mb_gradient_passes():
    elements = (64 << 20) // 4
    variables = {"Big/W": np.zeros(elements, dtype=np.float32)}
    gradient = np.arange(elements, dtype=np.float32) % 1024
    with shards(1, 1) as (addresses, _), clients(addresses, 1) as (client,):
        client.init(variables)
        client.push(0, {"Big/W": gradient}, 2)
        means, total = client.pull(0)

    assert total == 2
    assert means["Big/W"].nbytes == 64 << 20
    np.testing.assert_array_equal(means["Big/W"], gradient / np.float32(2))
