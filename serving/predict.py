"""One Predict call from request to answer, shared by the gRPC and the HTTP front ends.

Both decode their wire format into ``{input name: array}`` first; from there on the path
is the same: check the request against the served version, queue it, wait for the batch
(at most until the client's deadline), and return the outputs or raise a ServingError.
"""

import time

from .errors import DeadlineExpired, ModelNotFound
from .validation import check_request


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
        if name and name != self.model_name:
            raise ModelNotFound(f"model {name!r} is not served here; this server serves {self.model_name!r}")

    def predict(self, inputs, output_names=(), timeout=None, on_pending=None):
        """Answer one request.

        Parameters
        ----------
        inputs : dict
            Input name -> array (one sample or a batch).
        output_names : sequence of str
            Empty for every output of the signature.
        timeout : float or None
            Seconds left until the client's deadline; None waits as long as it takes.
        on_pending : callable, optional
            Given the Pending right after queueing (the gRPC side hooks cancellation on it).

        Returns
        -------
        (dict of arrays, int)
            The outputs (same leading form as the inputs) and the model version that computed them.
        """
        if timeout is not None and timeout <= 0:
            self.metrics.expired.inc()
            raise DeadlineExpired("the deadline had passed when the request arrived")
        checked = check_request(self.store.current, inputs, output_names, self.max_request_bytes)
        deadline = None if timeout is None else time.monotonic() + timeout
        pending = self.batcher.submit(checked, deadline)
        if on_pending is not None:
            on_pending(pending)
        if not pending.wait(timeout):
            pending.abandon()  # the worker counts it as expired when it reaches it, and skips it
            raise DeadlineExpired("the deadline passed while the request was queued")
        if pending.error is not None:
            raise pending.error
        return pending.outputs, pending.version
