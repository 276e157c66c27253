"""Dynamic batching: gather concurrent requests into one forward pass, computed by one thread.

Front ends (the gRPC event loop, HTTP request threads) ``submit`` checked requests and wait; a single worker
thread takes the oldest request, waits at most ``batch_timeout`` seconds from its arrival
for more (up to ``max_batch_size`` samples), stacks their inputs on the batch axis, runs
the served model once and hands each request its slice of the outputs.

The wait only pays while others are on their way. So by default (``batch_wait="adaptive"``)
a batch stops waiting as soon as it holds as many requests as the last batch did: a lone
client (last batch: 1) is answered at once, as by an unbatched server; four clients in a
loop are computed together the moment the fourth arrives, not when the timeout ends; and
under heavy load batches still grow with whatever queues up. The timeout remains the
limit, and a batch that waited it out sets a smaller expectation for the next one.
``batch_wait="always"`` waits out the timeout every time, as TensorFlow Serving does.

Why this is safe under any number of clients: node values live in the graph, so two
forward passes on one graph at the same time would overwrite each other's inputs and
intermediate values (the book's server had exactly that race). Here only the worker
thread ever calls ``LoadedModel.run``, so passes never overlap; concurrency comes from
batching instead of from threads. A request keeps the model version it was computed
with, read once per batch, so a hot swap never mixes two versions in one answer.

Pinned versions: a request for the newest version runs on the version served when its
batch is computed; a request pinned to a version carries that version's LoadedModel and
runs on it. Each batch is one forward pass of one graph, so requests wait in one queue per
version asked for (the newest is one of them), a batch is gathered from one queue, and the
oldest request waiting, whichever version it asks for, starts the next batch: a pinned
request is never computed by another version. An adaptive batch also stops waiting for
company once a request for another version is waiting, since waiting would delay it.

Overload and deadlines: at most ``max_queue`` requests wait (queued or gathering); the
next one is refused at once with ``QueueFull`` (RESOURCE_EXHAUSTED). A request whose
deadline has passed, or whose client went away, by the time its batch is computed is
dropped without being computed. A request larger than ``max_batch_size`` samples runs as
a batch of its own; it is never split.
"""

import collections
import logging
import threading
import time

import numpy as np

from .errors import DeadlineExpired, InvalidRequest, QueueFull, RequestError, ShuttingDown
from .settings import BATCH_WAITS

log = logging.getLogger("serving.batcher")


class Pending:
    """One submitted request, until the worker answers it.

    Attributes
    ----------
    request : CheckedRequest
    deadline : float or None
        ``time.monotonic()`` after which the answer is useless.
    outputs : dict or None
        Output name -> array, the request's own samples (set on success).
    model : LoadedModel or None
        The version the request is pinned to; None for the newest served when its batch runs.
    version : int or None
        The model version that computed ``outputs``.
    error : RequestError or None
    """

    def __init__(self, request, deadline, model=None):
        self.request = request
        self.deadline = deadline
        self.model = model
        self.enqueued_at = time.monotonic()
        self.outputs = None
        self.version = None
        self.error = None
        self.abandoned = False
        self._done = threading.Event()
        self._callbacks = []
        self._callbacks_lock = threading.Lock()

    def wait(self, timeout=None):
        """True once answered; False if ``timeout`` seconds passed first."""
        return self._done.wait(timeout)

    def add_done_callback(self, callback):
        """Call ``callback()`` once answered: from the worker thread, or at once if already answered."""
        with self._callbacks_lock:
            if not self._done.is_set():
                self._callbacks.append(callback)
                return
        callback()

    def abandon(self):
        """The client stopped waiting (deadline or cancel): the worker will skip the request."""
        self.abandoned = True

    def _finish(self, outputs=None, version=None, error=None):
        self.outputs, self.version, self.error = outputs, version, error
        with self._callbacks_lock:
            self._done.set()
            callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            callback()


class Batcher:
    """The request queue and its worker thread.

    Parameters
    ----------
    store : ModelStore
        ``store.current`` is read once per batch of requests for the newest version.
    max_batch_size : int
        Most samples per forward pass; 1 turns dynamic batching off.
    batch_timeout : float
        Seconds the oldest request waits for others to join its batch.
    batch_wait : {"adaptive", "always"}
        Stop waiting once as many requests as in the last batch are here, or always wait it out.
    max_queue : int
        Most requests waiting (queued or gathering) before new ones are refused.
    metrics : Metrics
    """

    def __init__(self, store, max_batch_size, batch_timeout, max_queue, metrics, batch_wait="adaptive"):
        if batch_wait not in BATCH_WAITS:
            raise ValueError(f"batch_wait must be one of {list(BATCH_WAITS)}, got {batch_wait!r}")
        if max_batch_size < 1 or max_queue < 1 or batch_timeout < 0:
            raise ValueError(
                f"need max_batch_size >= 1, max_queue >= 1 and batch_timeout >= 0, got "
                f"{max_batch_size}, {max_queue}, {batch_timeout}"
            )
        self.store = store
        self.max_batch_size = max_batch_size
        self.batch_timeout = batch_timeout
        self.always_wait = batch_wait == "always"
        self.max_queue = max_queue
        self.metrics = metrics
        # The queue of each version asked for, oldest first: None for the newest, else the pinned LoadedModel.
        # A queue left empty is removed, so a dropped version's graph is not held here.
        self._queues = {}
        self._waiting = 0  # queued plus gathered-but-not-computing: what max_queue bounds
        self._condition = threading.Condition()
        self._stopping = False
        self._last_batch_requests = 1
        self._thread = threading.Thread(target=self._work, name="serving-batcher", daemon=True)

    def start(self):
        self._thread.start()

    def submit(self, request, deadline=None, model=None):
        """Queue a CheckedRequest, for the newest version or pinned to ``model`` (the LoadedModel it was
        checked against); returns its Pending. Raises QueueFull or ShuttingDown at once."""
        pending = Pending(request, deadline, model)
        with self._condition:
            if self._stopping:
                raise ShuttingDown("the server is shutting down and takes no new requests")
            if self._waiting >= self.max_queue:
                self.metrics.rejected.inc()
                raise QueueFull(
                    f"the request queue is full ({self.max_queue} requests waiting, --max-queue); retry later"
                )
            self._waiting += 1
            self.metrics.queue_depth.set(self._waiting)
            self._queues.setdefault(model, collections.deque()).append(pending)
            self._condition.notify()
        return pending

    def queue_depth(self):
        with self._condition:
            return self._waiting

    def stop(self, timeout=30.0):
        """Take no new requests, compute every queued one, then end the worker."""
        with self._condition:
            self._stopping = True
            self._condition.notify_all()
        self._thread.join(timeout)

    # -- the worker ---------------------------------------------------------
    def _work(self):
        while True:
            gathered = self._gather()
            if gathered is None:
                return
            pinned, batch = gathered
            try:
                self._compute(pinned, batch)
            except Exception as error:  # the worker must outlive any one batch
                log.exception("batch of %d requests failed", len(batch))
                for pending in batch:
                    if not pending._done.is_set():
                        pending._finish(error=RequestError(f"the model failed on this batch: {error}"))

    def _gather(self):
        """(pinned LoadedModel or None, the next batch of Pending requests), or None once stopping with nothing left."""
        with self._condition:
            while not self._queues and not self._stopping:
                self._condition.wait()
            if not self._queues:
                return None
            pinned = min(self._queues, key=lambda key: self._queues[key][0].enqueued_at)
            queue = self._queues[pinned]
            first = queue.popleft()
            batch, samples = [first], first.request.size
            window_end = first.enqueued_at + self.batch_timeout
            # Adaptive: expect as many requests as the last batch had (1: nobody else is coming).
            expected = None if self.always_wait else self._last_batch_requests
            while samples < self.max_batch_size:
                if expected is not None and len(batch) >= expected and not queue:
                    break
                if queue:
                    if samples + queue[0].request.size > self.max_batch_size:
                        break  # it starts the next batch
                    joining = queue.popleft()
                    batch.append(joining)
                    samples += joining.request.size
                    continue
                remaining = window_end - time.monotonic()
                if remaining <= 0 or self._stopping or (expected is not None and len(self._queues) > 1):
                    break
                self._condition.wait(remaining)
            if not queue and self._queues.get(pinned) is queue:
                del self._queues[pinned]
            self._last_batch_requests = len(batch)
            self._waiting -= len(batch)
            self.metrics.queue_depth.set(self._waiting)
        return pinned, batch

    def _compute(self, pinned, batch):
        now = time.monotonic()
        live = []
        for pending in batch:
            if pending.abandoned and (pending.deadline is None or pending.deadline > now):
                self.metrics.cancelled.inc()
                pending._finish(error=RequestError("the client cancelled the request"))
            elif pending.abandoned or (pending.deadline is not None and pending.deadline <= now):
                self.metrics.expired.inc()
                pending._finish(error=DeadlineExpired("the deadline passed while the request was queued"))
            else:
                live.append(pending)
        if not live:
            return
        model = self.store.current if pinned is None else pinned
        live = [pending for pending in live if self._fits(model, pending)]
        if not live:
            return
        for pending in live:
            self.metrics.queue_time.observe(now - pending.enqueued_at)
        inputs = {
            name: live[0].request.batch[name]
            if len(live) == 1
            else np.concatenate([pending.request.batch[name] for pending in live])
            for name in model.inputs
        }
        output_names = list(dict.fromkeys(name for pending in live for name in pending.request.output_names))
        results = model.run(inputs, output_names)
        size = next(iter(inputs.values())).shape[0]
        self.metrics.batches.inc()
        self.metrics.samples.inc(size)
        self.metrics.batch_size.observe(size)
        start = 0
        for pending in live:
            stop = start + pending.request.size
            # Copies: the graph's values are replaced by the next batch while the answer is being sent.
            outputs = {
                name: (results[name][start] if pending.request.single else results[name][start:stop]).copy()
                for name in pending.request.output_names
            }
            pending._finish(outputs=outputs, version=model.version)
            start = stop

    def _fits(self, model, pending):
        """A request checked against an older version may not fit a swapped-in one with other shapes."""
        request = pending.request
        fits = set(request.batch) == set(model.inputs) and all(
            request.batch[name].shape[1:] == node.dim for name, node in model.inputs.items()
        )
        fits = fits and all(name in model.outputs for name in request.output_names)
        if not fits:
            pending._finish(
                error=InvalidRequest(
                    f"the model changed to version {model.version} while the request was queued, and the request "
                    f"does not fit its inputs {model.input_dims()} / outputs {list(model.outputs)}; send it again"
                )
            )
        return fits
