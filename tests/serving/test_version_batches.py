"""Requests pinned to a version are computed by that version's graph, in batches of their own version only."""

import threading
import time
from types import SimpleNamespace

import numpy as np
import pytest

import matrixslow as ms
from matrixslow.serving.batcher import Batcher
from matrixslow.serving.metrics import Metrics
from matrixslow.serving.model_store import load_version
from matrixslow.serving.validation import check_request

from .support import export, local_forward, wait_until


@pytest.fixture
def two_versions(tmp_path):
    """(store serving version 2 as the newest, {version: loaded}, {version: local model}, passes run).

    ``passes`` lists (version, rows) of every forward pass, in order.
    """
    passes, loaded, local = [], {}, {}
    for version in (1, 2):
        _, local[version] = export(tmp_path, version, lambda: ms.model.dnn(4, [6], 3), seed=version)
        model = loaded[version] = load_version(tmp_path, version)
        run = model.run

        def recording_run(batch, output_names, version=version, run=run):
            passes.append((version, len(batch["x"])))
            return run(batch, output_names)

        model.run = recording_run
    return SimpleNamespace(current=loaded[2]), loaded, local, passes


def samples(n, seed):
    return np.random.default_rng(seed).normal(size=(n, 4, 1))


def test_interleaved_pins_are_grouped_by_version_and_each_answered_by_its_own(two_versions):
    store, loaded, local, passes = two_versions
    batcher = Batcher(store, 64, 0.3, 100, Metrics(), "always")
    batcher.start()
    asked = []  # (version pinned or None, request rows, pending), submitted alternately
    for index in range(8):
        pinned = loaded[1] if index % 2 == 0 else None
        rows = samples(1 + index % 3, seed=index)
        asked.append((pinned, rows, batcher.submit(check_request(pinned or store.current, {"x": rows}), None, pinned)))
    try:
        assert all(pending.wait(30) for _, _, pending in asked)
    finally:
        batcher.stop()
    for index, (pinned, rows, pending) in enumerate(asked):
        version = 1 if pinned is not None else 2
        assert pending.error is None, f"request {index}: {pending.error}"
        assert pending.version == version, f"request {index} for version {version} was computed by {pending.version}"
        expected = local_forward(local[version], {"x": rows})
        np.testing.assert_allclose(pending.outputs["predict"], expected, rtol=1e-12, atol=1e-15)
    # One pass per version: the four requests of each were queued within the window of their first.
    assert sorted(passes) == [(1, 1 + 3 + 2 + 1), (2, 2 + 1 + 3 + 2)]
    assert not np.allclose(local_forward(local[1], {"x": samples(2, 0)}), local_forward(local[2], {"x": samples(2, 0)}))


def test_a_pinned_request_keeps_its_version_when_a_newer_one_is_swapped_in(two_versions, tmp_path):
    store, loaded, local, passes = two_versions
    batcher = Batcher(store, 64, 60.0, 100, Metrics(), "always")  # held in the queue until stop
    batcher.start()
    rows = samples(2, seed=9)
    pending = batcher.submit(check_request(loaded[1], {"x": rows}), None, loaded[1])
    export(tmp_path / "other", 3, lambda: ms.model.dnn(5, [6], 3))  # other input dims: would not fit
    store.current = load_version(tmp_path / "other", 3)
    batcher.stop()
    assert pending.error is None and pending.version == 1
    np.testing.assert_allclose(pending.outputs["predict"], local_forward(local[1], {"x": rows}), rtol=1e-12)
    assert passes == [(1, 2)]


def test_an_adaptive_batch_stops_waiting_once_another_versions_request_waits(two_versions):
    store, loaded, local, passes = two_versions
    release = threading.Event()
    run = loaded[2].run

    def first_pass_held(batch, output_names):
        if not release.is_set():
            release.wait(30)  # the first pass lasts until the test lets it go
        return run(batch, output_names)

    loaded[2].run = first_pass_held
    batcher = Batcher(store, 64, 5.0, 100, Metrics(), "adaptive")
    batcher.start()
    request = check_request(store.current, {"x": samples(1, seed=1)})
    first = batcher.submit(request)
    wait_until(lambda: batcher.queue_depth() == 0, 30, "the first request was never taken")
    pair = [batcher.submit(request), batcher.submit(request)]  # computed together: the next batch expects 2
    release.set()
    assert first.wait(30) and all(pending.wait(30) for pending in pair)

    started = time.monotonic()
    newest = batcher.submit(request)
    time.sleep(0.2)
    pinned = batcher.submit(check_request(loaded[1], {"x": samples(1, seed=1)}), None, loaded[1])
    assert newest.wait(30) and pinned.wait(30)
    waited = time.monotonic() - started
    batcher.stop()
    assert 0.2 <= waited < 2.5, f"waited {waited:.2f} s: the batch for the newest waited for company of its own"
    assert passes == [(2, 1), (2, 2), (2, 1), (1, 1)]
    assert newest.version == 2 and pinned.version == 1
