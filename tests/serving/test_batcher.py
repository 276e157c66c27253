"""The batcher: exact answers under concurrency, bounded batches and queue, deadlines never computed."""

import threading
import time
from types import SimpleNamespace

import numpy as np
import pytest

import matrixslow as ms
from matrixslow.serving.batcher import Batcher
from matrixslow.serving.errors import DeadlineExpired, InvalidRequest, QueueFull, ShuttingDown
from matrixslow.serving.metrics import Metrics
from matrixslow.serving.model_store import load_version
from matrixslow.serving.validation import check_request

from .support import export, local_forward, wait_until


@pytest.fixture
def served(tmp_path):
    """(store, local model, batch sizes each forward pass ran with)."""
    _, model = export(tmp_path, 1, lambda: ms.model.dnn(4, [6], 3), seed=5)
    loaded = load_version(tmp_path, 1)
    sizes = []
    run = loaded.run

    def recording_run(batch, output_names):
        sizes.append(len(batch["x"]))
        return run(batch, output_names)

    loaded.run = recording_run
    return SimpleNamespace(current=loaded), model, sizes


def make_batcher(store, max_batch_size=8, batch_timeout=0.0, max_queue=100, batch_wait="always"):
    """A started Batcher; by default every batch waits its timeout, so a lone request can be held in the queue."""
    batcher = Batcher(store, max_batch_size, batch_timeout, max_queue, Metrics(), batch_wait)
    batcher.start()
    return batcher


def samples(n, seed):
    return np.random.default_rng(seed).normal(size=(n, 4, 1))


def test_concurrent_requests_get_their_own_answers_from_shared_batches(served):
    store, model, sizes = served
    batcher = make_batcher(store, max_batch_size=8, batch_timeout=0.2)
    requests = [samples(1 + index % 3, seed=index) for index in range(24)]
    start = threading.Barrier(len(requests))
    answers = [None] * len(requests)

    def ask(index):
        start.wait()
        pending = batcher.submit(check_request(store.current, {"x": requests[index]}))
        assert pending.wait(30)
        answers[index] = pending.outputs["predict"]

    threads = [threading.Thread(target=ask, args=(index,)) for index in range(len(requests))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    batcher.stop()
    for request, answer in zip(requests, answers, strict=True):
        np.testing.assert_allclose(answer, local_forward(model, {"x": request}), rtol=1e-12, atol=1e-15)
    assert sum(sizes) == sum(len(request) for request in requests)
    assert max(sizes) <= 8
    assert len(sizes) < len(requests)  # some requests shared a forward pass


def test_one_sample_is_answered_without_the_batch_axis(served):
    store, model, _ = served
    batcher = make_batcher(store)
    sample = samples(1, seed=3)[0]
    pending = batcher.submit(check_request(store.current, {"x": sample}))
    assert pending.wait(30)
    batcher.stop()
    assert pending.outputs["predict"].shape == (3, 1)
    np.testing.assert_allclose(pending.outputs["predict"], local_forward(model, {"x": sample[None]})[0], rtol=1e-12)


def test_a_request_larger_than_the_batch_limit_runs_whole_and_alone(served):
    store, model, sizes = served
    batcher = make_batcher(store, max_batch_size=4, batch_timeout=0.2)
    big, small = samples(10, seed=1), samples(2, seed=2)
    pendings = [batcher.submit(check_request(store.current, {"x": x})) for x in (big, small)]
    assert all(pending.wait(30) for pending in pendings)
    batcher.stop()
    assert sizes == [10, 2]
    np.testing.assert_allclose(pendings[0].outputs["predict"], local_forward(model, {"x": big}), rtol=1e-12)


def test_a_full_queue_refuses_at_once_and_the_queued_requests_still_finish(served):
    store, _, sizes = served
    batcher = make_batcher(store, max_batch_size=64, batch_timeout=60.0, max_queue=2)
    request = check_request(store.current, {"x": samples(1, seed=0)})
    queued = [batcher.submit(request), batcher.submit(request)]
    with pytest.raises(QueueFull, match=r"the request queue is full \(2 requests waiting, --max-queue\)"):
        batcher.submit(request)
    assert batcher.metrics.counters()["rejected_queue_full"] == 1
    batcher.stop()  # ends the 60 s wait: stopping computes what is queued
    assert all(pending.wait(0) and pending.error is None for pending in queued)
    assert sizes == [2]
    with pytest.raises(ShuttingDown):
        batcher.submit(request)


def test_a_request_whose_deadline_passes_in_the_queue_is_never_computed(served):
    store, _, sizes = served
    batcher = make_batcher(store, max_batch_size=64, batch_timeout=0.5)
    request = check_request(store.current, {"x": samples(1, seed=0)})
    pending = batcher.submit(request, deadline=time.monotonic() + 0.01)
    assert pending.wait(30)
    assert isinstance(pending.error, DeadlineExpired) and pending.outputs is None
    cancelled = batcher.submit(request)
    cancelled.abandon()
    assert cancelled.wait(30)
    batcher.stop()
    assert sizes == []
    counters = batcher.metrics.counters()
    assert counters["expired"] == 1 and counters["cancelled"] == 1 and counters["samples_computed"] == 0


def test_a_request_that_no_longer_fits_a_swapped_in_version_is_refused(served, tmp_path):
    store, _, sizes = served
    batcher = make_batcher(store, max_batch_size=64, batch_timeout=60.0)
    pending = batcher.submit(check_request(store.current, {"x": samples(1, seed=0)}))
    export(tmp_path / "other", 2, lambda: ms.model.dnn(5, [6], 3))
    store.current = load_version(tmp_path / "other", 2)
    batcher.stop()
    assert isinstance(pending.error, InvalidRequest)
    assert "changed to version 2" in pending.error.message and "{'x': (5, 1)}" in pending.error.message
    assert sizes == []


def test_done_callbacks_run_once_answered_or_at_once_when_already_answered(served):
    store, model, _ = served
    batcher = make_batcher(store, max_batch_size=64, batch_timeout=0.5)
    sample = samples(1, seed=6)[0]
    pending = batcher.submit(check_request(store.current, {"x": sample}))
    calls = []
    pending.add_done_callback(lambda: calls.append(("early", pending.outputs is not None)))
    assert calls == []  # still gathering company for 0.5 s
    assert pending.wait(30)
    pending.add_done_callback(lambda: calls.append(("late", pending.outputs is not None)))
    batcher.stop()
    assert calls == [("early", True), ("late", True)]
    np.testing.assert_allclose(pending.outputs["predict"], local_forward(model, {"x": sample[None]})[0], rtol=1e-12)


def test_an_unknown_batch_wait_is_refused():
    with pytest.raises(ValueError, match=r"batch_wait must be one of \['adaptive', 'always'\], got 'sometimes'"):
        Batcher(SimpleNamespace(current=None), 8, 0.0, 10, Metrics(), "sometimes")


def test_adaptive_batches_wait_only_for_as_many_requests_as_the_last_batch_had(served):
    store, model, sizes = served
    release = threading.Event()
    run = store.current.run

    def first_pass_held(batch, output_names):
        release.wait(30)  # the first forward pass lasts until the test lets it go
        return run(batch, output_names)

    store.current.run = first_pass_held
    batcher = make_batcher(store, max_batch_size=64, batch_timeout=5.0, batch_wait="adaptive")
    request = check_request(store.current, {"x": samples(1, seed=8)})
    submitted = time.monotonic()
    lone = batcher.submit(request)
    # A first request has no company to expect: it is computed at once (not after 5 s).
    wait_until(lambda: batcher.queue_depth() == 0, 30, "the lone request was never taken")
    assert time.monotonic() - submitted < 2.5
    # Two more queue while it is computed: they make the next batch.
    queued = [batcher.submit(request), batcher.submit(request)]
    release.set()
    assert lone.wait(30) and all(pending.wait(30) for pending in queued)
    # That batch had 2 requests, so the next one waits for a second request, and not a moment longer.
    started = time.monotonic()
    under_load = batcher.submit(request)
    time.sleep(0.2)
    joining = batcher.submit(request)
    assert under_load.wait(30) and joining.wait(30)
    waited = time.monotonic() - started
    batcher.stop()
    assert sizes == [1, 2, 2]
    assert 0.2 <= waited < 2.5  # waited for its company, computed long before the 5 s timeout
    np.testing.assert_allclose(joining.outputs["predict"], local_forward(model, {"x": samples(1, seed=8)}), rtol=1e-12)
