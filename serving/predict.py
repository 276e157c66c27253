"""One Predict call from request to answer, shared by the gRPC and the HTTP front ends.

Both decode their wire format into ``{input name: array}`` first; from there on the path
is the same: check the request against the version it asks for (the newest served, or one
pinned by number), queue it, wait for the batch
(at most until the client's deadline), and return the outputs or raise a RequestError.
The HTTP front end's threads block in ``predict``; the gRPC front end's event loop calls
``submit`` and awaits the Pending instead, so no thread waits per request.
"""

import time

from .errors import MAX_NAME_CHARS, DeadlineExpired, ModelNotFound, shown
from .validation import check_request


def served_model(store, model_name, version=None):
    """``store``'s LoadedModel of ``version`` (None: the newest served); ModelNotFound naming the versions served."""
    if version is None:
        return store.current
    model = store.loaded(version)
    if model is None:
        served = ", ".join(map(str, store.loaded_versions()))
        raise ModelNotFound(f"model {model_name!r} has no version {version} loaded; versions served: {served}")
    return model


class Predictor:
    """Check, queue and wait for requests.

    Parameters
    ----------
    model_name : str
        Requests naming another model get NOT_FOUND; an empty name means this one.
    store : ModelStore
    batcher : Batcher
    metrics : Metrics
    max_request_bytes : int
    """

    def __init__(self, model_name, store, batcher, metrics, max_request_bytes):
        self.model_name = model_name
        self.store = store
        self.batcher = batcher
        self.metrics = metrics
        self.max_request_bytes = max_request_bytes

    def check_name(self, name):
        """ModelNotFound unless ``name`` is empty or this model's; the message quotes at most a readable part of it."""
        if not name or name == self.model_name:
            return
        if len(name) > MAX_NAME_CHARS:
            raise ModelNotFound(
                f"model {shown(name)} is not served here: names are at most {MAX_NAME_CHARS} characters; "
                f"this server serves {self.model_name!r}"
            )
        raise ModelNotFound(f"model {shown(name)} is not served here; this server serves {self.model_name!r}")

    def model_for(self, version=None):
        """The LoadedModel of ``version`` (None: the newest served); ModelNotFound naming the versions served."""
        return served_model(self.store, self.model_name, version)

    def submit(self, inputs, output_names=(), timeout=None, version=None):
        """Check one request and queue it; returns its Pending (see ``answer``).

        Parameters
        ----------
        inputs : dict
            Input name -> array (one sample or a batch).
        output_names : sequence of str
            Empty for every output of the signature.
        timeout : float or None
            Seconds left until the client's deadline; None waits as long as it takes.
        version : int or None
            The version to run on, if it is loaded; None for the newest served.

        Raises ModelNotFound, InvalidRequest, QueueFull, ShuttingDown or DeadlineExpired at once.
        """
        if timeout is not None and timeout <= 0:
            self.metrics.expired.inc()
            raise DeadlineExpired("the deadline had passed when the request arrived")
        model = self.model_for(version)
        checked = check_request(model, inputs, output_names, self.max_request_bytes)
        deadline = None if timeout is None else time.monotonic() + timeout
        # Unpinned requests are not tied to ``model``: a version swapped in while they wait computes them.
        return self.batcher.submit(checked, deadline, None if version is None else model)

    @staticmethod
    def answer(pending):
        """(outputs, version) of an answered Pending: the outputs in the request's leading form; or its error."""
        if pending.error is not None:
            raise pending.error
        return pending.outputs, pending.version

    @staticmethod
    def expire(pending):
        """The client stopped waiting: the worker skips the request (counted as expired) when it reaches it."""
        pending.abandon()
        raise DeadlineExpired("the deadline passed while the request was queued")

    def predict(self, inputs, output_names=(), timeout=None, version=None):
        """``submit``, wait for the batch (at most ``timeout`` seconds), and ``answer``: for threaded front ends."""
        pending = self.submit(inputs, output_names, timeout, version)
        if not pending.wait(timeout):
            self.expire(pending)
        return self.answer(pending)
