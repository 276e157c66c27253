"""What a batched answer equals: the batch's forward pass bit for bit, the request alone within 1e-12, never another's.

A BLAS product over B rows may round a row differently from the same row alone (the
last bit, about 1e-15), so bit-identity with the request alone is not promised.
"""

import threading
from types import SimpleNamespace

import numpy as np

import matrixslow as ms
from matrixslow.serving.batcher import Batcher
from matrixslow.serving.metrics import Metrics
from matrixslow.serving.model_store import load_version
from matrixslow.serving.validation import check_request

from .support import export, local_forward, running_server

RELATIVE_TO_ALONE = 1e-12


def build_dnn():
    # Wide enough that the batch's GEMM takes other paths than one row's (the rounding this file is about).
    return ms.model.dnn(64, [32], 10)


def make_requests(count, seed):
    """Distinct inputs: one sample without the batch axis every fourth request, else batches of 1 to 3."""
    rng = np.random.default_rng(seed)
    return [
        rng.normal(size=(64, 1)) if index % 4 == 0 else rng.normal(size=(1 + index % 3, 64, 1))
        for index in range(count)
    ]


def alone(model, request):
    """The request's answer from a forward pass of the request by itself."""
    batch = request[None] if request.ndim == 2 else request
    output = local_forward(model, {"x": batch})
    return output[0] if request.ndim == 2 else output


def ask_together(requests, ask):
    """``ask(index, request)`` from one thread per request, all released at once; the answers in request order."""
    start = threading.Barrier(len(requests))
    answers = [None] * len(requests)

    def run(index):
        start.wait()
        answers[index] = ask(index, requests[index])

    threads = [threading.Thread(target=run, args=(index,)) for index in range(len(requests))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert all(answer is not None for answer in answers), "a request got no answer"
    return answers


def assert_each_answer_is_its_own_requests(requests, answers, model):
    """Within 1e-12 (relative to its largest value) of the request alone, and nearer to it than to any other's."""
    expected = [alone(model, request) for request in requests]
    for index, (answer, own) in enumerate(zip(answers, expected, strict=True)):
        assert answer.shape == own.shape, f"request {index}: answer of shape {answer.shape}, expected {own.shape}"
        distances = [np.abs(answer - other).max() if other.shape == own.shape else np.inf for other in expected]
        assert int(np.argmin(distances)) == index, f"request {index} got the answer of request {np.argmin(distances)}"
        difference = distances[index]
        assert difference <= RELATIVE_TO_ALONE * np.abs(own).max(), f"request {index} differs by {difference:.3g}"


def where_computed(request, batches):
    """(batch index, first row) of the one recorded batch whose inputs hold ``request``'s rows exactly."""
    rows = request[None] if request.ndim == 2 else request
    found = [
        (number, start)
        for number, (inputs, _) in enumerate(batches)
        for start in range(len(inputs) - len(rows) + 1)
        if np.array_equal(inputs[start : start + len(rows)], rows)
    ]
    assert len(found) == 1, f"the request's rows were computed in {len(found)} places, expected exactly one"
    return found[0]


def test_a_batched_answer_is_its_rows_of_the_batch_forward_pass_bit_for_bit(tmp_path):
    _, model = export(tmp_path, 1, build_dnn, seed=5)
    loaded = load_version(tmp_path, 1)
    batches = []  # (inputs, outputs) of every forward pass the batcher ran
    run = loaded.run

    def recording_run(batch, output_names):
        results = run(batch, output_names)
        batches.append((batch["x"].copy(), results["predict"].copy()))
        return results

    loaded.run = recording_run
    store = SimpleNamespace(current=loaded)
    batcher = Batcher(store, 16, 0.2, 100, Metrics(), "always")
    batcher.start()
    requests = make_requests(16, seed=1)

    def ask(index, request):
        pending = batcher.submit(check_request(loaded, {"x": request}))
        assert pending.wait(30) and pending.error is None, f"request {index}: {pending.error}"
        return pending.outputs["predict"]

    try:
        answers = ask_together(requests, ask)
    finally:
        batcher.stop()
    assert len(batches) < len(requests), "no two requests shared a forward pass"
    for index, (request, answer) in enumerate(zip(requests, answers, strict=True)):
        number, start = where_computed(request, batches)
        inputs, outputs = batches[number]
        # An independent local forward pass of that same batch, on the exporting graph.
        local = local_forward(model, {"x": inputs})
        rows = local[start] if request.ndim == 2 else local[start : start + len(request)]
        assert np.array_equal(answer, rows), f"request {index}: not bit-equal to its rows of batch {number}"
        assert np.array_equal(local, outputs), f"batch {number}: the server's pass differs from the local one"
    assert_each_answer_is_its_own_requests(requests, answers, model)


def test_the_server_answers_batched_requests_each_with_its_own_answer(tmp_path):
    _, model = export(tmp_path / "models", 1, build_dnn, seed=6)
    requests = make_requests(12, seed=2)
    flags = ("--max-batch-size", "16", "--batch-timeout-ms", "200", "--batch-wait", "always")
    with running_server(tmp_path / "models", tmp_path, *flags, http=False) as server:

        def ask(index, request):
            with server.client(timeout=30) as client:
                return client.predict({"x": request})["predict"]

        answers = ask_together(requests, ask)
        with server.client() as client:
            counters = client.status()["counters"]
    assert counters["batches"] < len(requests), f"no two requests shared a forward pass: {counters}"
    assert_each_answer_is_its_own_requests(requests, answers, model)
