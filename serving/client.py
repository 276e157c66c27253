"""The Python client: ``serving.Client("127.0.0.1:8500").predict({"x": array})`` -> {output name: array}."""

import contextlib
import numbers
import time

from matrixslow.extras import needs_extra

with needs_extra("serving", __name__):
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    from matrixslow.codec.tensors import GRPC_MAX_MESSAGE_BYTES, channel_options, from_proto, to_proto

    from .proto import serving_pb2, serving_pb2_grpc


class ServingError(RuntimeError):
    """A call the server refused or could not answer.

    Attributes
    ----------
    code : grpc.StatusCode
        INVALID_ARGUMENT, RESOURCE_EXHAUSTED, DEADLINE_EXCEEDED, NOT_FOUND, UNAVAILABLE, ...
    details : str
        The server's message (names the input and the shape it takes for bad input).
    """

    def __init__(self, code, details):
        super().__init__(f"{code.name}: {details}")
        self.code = code
        self.details = details


def _pinned(version):
    """The request's ``version`` field: 0 (proto3's default) asks for the newest, so a pin must be >= 1."""
    if version is None:
        return 0
    if isinstance(version, bool) or not isinstance(version, numbers.Integral) or version < 1:
        raise ValueError(f"version must be an int >= 1 (or None for the newest served), got {version!r}")
    return int(version)


class Client:
    """A connection to one server.

    Parameters
    ----------
    address : str
        "host:port" of the gRPC port.
    model_name : str, optional
        The model to ask; empty asks whichever model the server serves.
    timeout : float, optional
        Default deadline in seconds for every call; None waits as long as it takes.
    max_message_bytes : int
        Both message limits of the channel (default: gRPC's maximum, so 64 MB tensors pass).
    tls_root_cert : str or path-like, optional
        PEM file of the CA certificate(s) the server's certificate must chain to; given, the
        client connects over TLS (a server run with ``--tls-cert``). None: plaintext.
    """

    def __init__(
        self, address, model_name="", timeout=None, max_message_bytes=GRPC_MAX_MESSAGE_BYTES, tls_root_cert=None
    ):
        self.address = address
        self.model_name = model_name
        self.timeout = timeout
        options = channel_options(max_message_bytes)
        if tls_root_cert is None:
            self._channel = grpc.insecure_channel(address, options=options)
        else:
            with open(tls_root_cert, "rb") as file:  # a missing file is an OSError naming it
                credentials = grpc.ssl_channel_credentials(root_certificates=file.read())
            self._channel = grpc.secure_channel(address, credentials, options=options)
        self._stub = serving_pb2_grpc.ModelServiceStub(self._channel)
        self._health = health_pb2_grpc.HealthStub(self._channel)

    def predict(self, inputs, output_names=(), timeout=None, version=None):
        """Run the model: its newest version served, or ``version``.

        Parameters
        ----------
        inputs : dict
            Input node name -> array: one sample (the input's dim) or a batch (B, *dim).
        output_names : sequence of str, optional
            Default: every output of the model's signature.
        timeout : float, optional
            Deadline in seconds (defaults to the client's).
        version : int, optional
            Pin the version (>= 1) that must compute the answer; NOT_FOUND, naming the versions
            served, if it is not loaded (the server keeps ``--keep-versions`` of them).

        Returns
        -------
        dict
            Output name -> writable numpy array, one sample or (B, ...) like the inputs.
            ``self.last_version`` holds the model version that answered.

        Raises
        ------
        ServingError
        """
        request = serving_pb2.PredictRequest(
            model_name=self.model_name,
            inputs={name: to_proto(value, name) for name, value in inputs.items()},
            output_names=list(output_names),
            version=_pinned(version),
        )
        response = self._call(self._stub.Predict, request, timeout)
        self.last_version = response.model_version
        return {name: from_proto(tensor, name).copy() for name, tensor in response.outputs.items()}

    def status(self, timeout=None, version=None):
        """The served model, its newest version or ``version``: {"model_name", "version", "available_versions",
        "loaded_versions", "failed_versions" ({version: error}), "inputs", "outputs", "last_load_error",
        "counters"}; inputs and outputs (the version's signature) are lists of {"name", "dim", "dtype"}."""
        request = serving_pb2.ModelStatusRequest(model_name=self.model_name, version=_pinned(version))
        response = self._call(self._stub.ModelStatus, request, timeout)
        specs = lambda entries: [{"name": e.name, "dim": tuple(e.dim), "dtype": e.dtype} for e in entries]  # noqa: E731
        return {
            "model_name": response.model_name,
            "version": response.version,
            "available_versions": list(response.available_versions),
            "loaded_versions": list(response.loaded_versions),
            "failed_versions": dict(sorted(response.failed_versions.items())),
            "inputs": specs(response.inputs),
            "outputs": specs(response.outputs),
            "last_load_error": response.last_load_error,
            "counters": dict(response.counters),
        }

    def health(self, service="", timeout=None):
        """The grpc.health.v1 status name: "SERVING", "NOT_SERVING", ..."""
        response = self._call(self._health.Check, health_pb2.HealthCheckRequest(service=service), timeout)
        return health_pb2.HealthCheckResponse.ServingStatus.Name(response.status)

    def wait_until_serving(self, timeout, process=None, poll_seconds=0.05):
        """Ask the health service until it says SERVING (a server starting up answers nothing yet).

        Raises
        ------
        TimeoutError
            After ``timeout`` seconds.
        RuntimeError
            When ``process`` (the server's ``subprocess.Popen``, if given) exits first.
        """
        give_up_at = time.monotonic() + timeout
        while True:
            if process is not None and process.poll() is not None:
                raise RuntimeError(f"the server at {self.address} exited with status {process.returncode}")
            with contextlib.suppress(ServingError):
                if self.health(timeout=1.0) == "SERVING":
                    return
            if time.monotonic() > give_up_at:
                raise TimeoutError(f"the server at {self.address} did not report SERVING within {timeout:g} s")
            time.sleep(poll_seconds)

    def _call(self, method, request, timeout):
        timeout = self.timeout if timeout is None else timeout
        try:
            return method(request, timeout=timeout)
        except grpc.RpcError as error:
            raise ServingError(error.code(), error.details()) from None

    def close(self):
        self._channel.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()
