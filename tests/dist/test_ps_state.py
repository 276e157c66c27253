"""matrixslow.dist.ps.state: concurrent synchronous pushes, summed outside the state's lock."""

import threading

import numpy as np

from matrixslow.dist.ps import ParameterState

WAIT_SECONDS = 30


def test_concurrent_pushes_of_several_steps_give_each_step_its_exact_mean():
    num_workers, steps = 8, 3
    rng = np.random.default_rng(11)
    variables = {"W": np.zeros((200, 300)), "b": np.zeros(300, dtype=np.float32)}
    gradients = {
        (worker, step): {
            name: rng.integers(-1000, 1000, size=value.shape).astype(value.dtype) for name, value in variables.items()
        }
        for worker in range(num_workers)
        for step in range(steps)
    }
    counts = [worker + 2 for worker in range(num_workers)]
    state = ParameterState(num_workers)
    state.init(0, variables)
    pulled = {}
    start = threading.Barrier(num_workers, timeout=WAIT_SECONDS)

    def work(worker):
        start.wait()  # every worker pushes step 0 at the same moment
        for step in range(steps):
            state.push(worker, step, gradients[worker, step], counts[worker])
            ready, means, total, _ = state.pull_mean(worker, step, [], timeout=WAIT_SECONDS)
            pulled[worker, step] = (ready, means, total)

    threads = [threading.Thread(target=work, args=(worker,)) for worker in range(num_workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=WAIT_SECONDS)
    assert not any(thread.is_alive() for thread in threads)

    for step in range(steps):
        for name, value in variables.items():
            total = sum(gradients[worker, step][name].astype(np.float64) for worker in range(num_workers))
            expected = (total / sum(counts)).astype(value.dtype)
            for worker in range(num_workers):
                ready, means, count = pulled[worker, step]
                assert ready and count == sum(counts)
                assert means[name].dtype == value.dtype
                np.testing.assert_array_equal(means[name], expected)


def test_pulled_means_are_shared_read_only_arrays():
    # Every worker gets the same array without a copy, so nobody may write into it.
    state = ParameterState(2)
    state.init(0, {"w": np.zeros(4)})
    for worker in range(2):
        state.push(worker, 0, {"w": np.full(4, worker + 1.0)}, 1)
    means = [state.pull_mean(worker, 0, [], timeout=1)[1]["w"] for worker in range(2)]

    np.testing.assert_array_equal(means[0], np.full(4, 1.5))
    assert means[0] is means[1]
    assert not means[0].flags.writeable
