"""ParameterServerClient.push_pull: a synchronous step in one message each way, on a Steps stream or by PushPull.

Every server is started on a free port and stopped by its context manager; every wait has a
timeout, so a step that hangs fails the test in seconds.
"""

import re
import threading
import time

import grpc
import numpy as np
import pytest

from matrixslow.codec.tensors import ENVELOPE_BYTES
from matrixslow.dist.ps import ASYNC, ParameterServer

from .test_parameter_server import (
    clients,
    expected_mean,
    model_variables,
    run_workers,
    shards,
    worker_gradients,
)


def push_pull_steps(connected, steps, counts, variables, before_step=None):
    """Every worker inits, then runs ``steps`` push_pulls; returns each worker's results."""
    connected[0].init(variables)

    def work(worker):
        connected[worker].init(variables)
        results = []
        for step in range(steps):
            if before_step is not None:
                before_step(worker, step)
            results.append(connected[worker].push_pull(step, worker_gradients(worker, step, variables), counts[worker]))
        return results

    return run_workers(len(connected), work)


def assert_exact_means(results, steps, counts, variables):
    for step in range(steps):
        gradients = [worker_gradients(worker, step, variables) for worker in range(len(counts))]
        expected = expected_mean(gradients, counts)
        for worker_results in results:
            means, total = worker_results[step]
            assert total == sum(counts)
            assert sorted(means) == sorted(expected)
            for name, value in expected.items():
                assert means[name].dtype == value.dtype
                np.testing.assert_array_equal(means[name], value)


def wait_until(condition, seconds=5.0):
    give_up_at = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < give_up_at, "condition not met in time"
        time.sleep(0.01)


@pytest.mark.parametrize(("num_shards", "counts"), [(1, [3, 29]), (2, [1, 7, 100])], ids=["1 shard", "2 shards"])
def test_push_pull_gives_the_exact_sample_weighted_means_on_one_stream_per_worker_and_shard(num_shards, counts):
    variables, steps = model_variables(0), 3
    with shards(num_shards, len(counts)) as (addresses, servers), clients(addresses, len(counts)) as connected:
        results = push_pull_steps(connected, steps, counts, variables)
        assert [server.servicer.open_streams for server in servers] == [len(counts)] * num_shards
    assert_exact_means(results, steps, counts, variables)


def test_push_pull_gives_what_push_then_pull_gives():
    variables, counts, steps = model_variables(0), [4, 9], 2
    with shards(2, 2) as (addresses, _), clients(addresses, 2) as connected:
        combined = push_pull_steps(connected, steps, counts, variables)
    with shards(2, 2) as (addresses, _), clients(addresses, 2) as connected:
        connected[0].init(variables)

        def apart(worker):
            connected[worker].init(variables)
            results = []
            for step in range(steps):
                connected[worker].push(step, worker_gradients(worker, step, variables), counts[worker])
                results.append(connected[worker].pull(step))
            return results

        separate = run_workers(2, apart)

    for worker in range(2):
        for step in range(steps):
            (means_one, total_one), (means_two, total_two) = combined[worker][step], separate[worker][step]
            assert total_one == total_two
            for name in variables:
                np.testing.assert_array_equal(means_one[name], means_two[name])


def test_closing_the_client_ends_its_streams_on_the_shard():
    variables = model_variables(0)
    with shards(1, 2) as (addresses, (server,)):
        with clients(addresses, 2) as connected:
            push_pull_steps(connected, 1, [1, 1], variables)
            assert server.servicer.open_streams == 2
        wait_until(lambda: server.servicer.open_streams == 0)


def test_a_shard_short_of_threads_for_streams_gets_push_pull_calls_with_the_same_means():
    # 2 workers + 4 spare threads leave no thread to lend a stream: the shard refuses both streams.
    variables, counts, steps = model_variables(0), [2, 5], 3
    with shards(1, 2, max_threads=6) as (addresses, (server,)), clients(addresses, 2) as connected:
        results = push_pull_steps(connected, steps, counts, variables)
        assert server.servicer.open_streams == 0
        assert not any(client._use_streams for client in connected)
    assert_exact_means(results, steps, counts, variables)


def test_a_stream_half_way_to_its_deadline_is_renewed_between_steps():
    variables, counts, steps = model_variables(0), [1, 3], 4
    opened = []

    def slow_steps(worker, step):
        time.sleep(0.15)  # 4 steps of 0.15 s on streams of a 0.4 s deadline: each renewed at least once
        if worker == 0 and step:
            opened.append(connected[0]._streams[0])

    with shards(1, 2) as (addresses, _), clients(addresses, 2, rpc_timeout=0.4) as connected:
        results = push_pull_steps(connected, steps, counts, variables, before_step=slow_steps)
    assert len({id(stream) for stream in opened}) > 1
    assert_exact_means(results, steps, counts, variables)


def test_a_worker_slower_than_the_long_poll_is_waited_for_within_the_step_timeout():
    variables, counts, steps = model_variables(0), [2, 3], 2

    def worker_1_is_late(worker, step):
        if worker == 1:
            time.sleep(0.3)  # six long-polls of 0.05 s: worker 0 asks again with Pull meanwhile

    with shards(1, 2, long_poll_seconds=0.05) as (addresses, _), clients(addresses, 2) as connected:
        results = push_pull_steps(connected, steps, counts, variables, before_step=worker_1_is_late)
    assert_exact_means(results, steps, counts, variables)


def test_push_pull_times_out_naming_the_worker_that_did_not_push():
    variables = model_variables(0)
    with (
        shards(1, 2, long_poll_seconds=0.05) as (addresses, _),
        clients(addresses, 2, step_timeout=0.5) as connected,
    ):
        for client in connected:
            client.init(variables)
        started = time.monotonic()
        with pytest.raises(TimeoutError, match=re.escape("still waits after 0.5 s for workers [1] to push")):
            connected[0].push_pull(0, worker_gradients(0, 0, variables), 1)
        assert time.monotonic() - started < 3


def test_a_worker_that_dies_mid_training_is_named_to_the_one_waiting_for_it():
    variables = model_variables(0)
    with (
        shards(1, 2, long_poll_seconds=0.05, deadline=0.5) as (addresses, _),
        clients(addresses, 2, step_timeout=10) as connected,
    ):
        for client in connected:
            client.init(variables)
        run_workers(2, lambda worker: connected[worker].push_pull(0, worker_gradients(worker, 0, variables), 1))
        connected[1].close()  # worker 1 is gone after step 0; worker 0 waits for its step 1
        started = time.monotonic()
        with pytest.raises(grpc.RpcError, match=r"run 1 is over: worker 1 silent for \d") as caught:
            connected[0].push_pull(1, worker_gradients(0, 1, variables), 1)
        assert time.monotonic() - started < 3  # the shard's deadline, not the worker's step timeout
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert addresses[0] in str(caught.value)


def test_a_shard_stopped_mid_step_is_named_at_once():
    variables = model_variables(0)
    server = ParameterServer(2)
    address = server.start()
    try:
        with clients([address], 2) as connected:
            for client in connected:
                client.init(variables)
            threading.Timer(0.3, server.stop).start()  # while worker 0 waits for worker 1, which never pushes
            started = time.monotonic()
            with pytest.raises(grpc.RpcError, match=f"parameter server {re.escape(address)} failed the call"):
                connected[0].push_pull(0, worker_gradients(0, 0, variables), 1)
            assert time.monotonic() - started < 5
    finally:
        server.stop()


def test_a_worker_whose_graph_disagrees_ends_the_run_for_the_others():
    variables = model_variables(0)
    with shards(1, 2, long_poll_seconds=0.05) as (addresses, _), clients(addresses, 2) as connected:
        for client in connected:
            client.init(variables)
        errors = {}

        def worker_0():
            try:
                connected[0].push_pull(0, worker_gradients(0, 0, variables), 1)
            except grpc.RpcError as error:
                errors[0] = error

        waiting = threading.Thread(target=worker_0)
        waiting.start()
        wrong = {**worker_gradients(1, 0, variables), "Hidden/W": np.zeros((4, 8))}
        with pytest.raises(grpc.RpcError) as caught:
            connected[1].push_pull(0, wrong, 1)
        waiting.join(timeout=10)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "variable 'Hidden/W': worker 1 sends (4, 8) float64 in its gradients" in caught.value.details()
    assert errors[0].code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "run 1 is over: the workers' graphs disagree" in errors[0].details()


def test_push_pull_is_refused_in_asynchronous_mode_before_anything_is_applied():
    variables = {"w": np.ones(3)}
    with (
        shards(1, 2, mode=ASYNC, learning_rate=1.0) as (addresses, _),
        clients(addresses, 2) as (client, _other),
    ):
        client.init(variables)
        with pytest.raises(grpc.RpcError, match="asynchronous mode has no per-step mean") as caught:
            client.push_pull(0, {"w": np.ones(3)}, 1)
        values, server_step = client.pull_values()
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert server_step == 0
    np.testing.assert_array_equal(values["w"], np.ones(3))


def test_a_push_bigger_than_one_message_goes_by_push_and_pull():
    limit = ENVELOPE_BYTES + 4000  # parts of under 4 KB: the 8 KB variable takes several messages
    variables = {"Big/W": np.zeros(1000), "b": np.zeros(3, dtype=np.float32)}
    counts, steps = [3, 1], 2
    with (
        shards(1, 2, max_message_bytes=limit) as (addresses, (server,)),
        clients(addresses, 2, max_message_bytes=limit) as connected,
    ):
        results = push_pull_steps(connected, steps, counts, variables)
        assert server.servicer.open_streams == 0
    assert_exact_means(results, steps, counts, variables)
