"""The errors of the serving stack, each mapped to one gRPC status code and one HTTP status."""

from matrixslow.extras import needs_extra

with needs_extra("serving", __name__):
    import grpc


class RequestError(Exception):
    """Base class: a request or a model the server cannot serve.

    Attributes
    ----------
    code : grpc.StatusCode
        The gRPC status the server answers with (the client sees the same code).
    http_status : int
        The HTTP status of the same error on the JSON endpoint.
    """

    code = grpc.StatusCode.INTERNAL
    http_status = 500

    def __init__(self, message, code=None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class InvalidRequest(RequestError):
    """The request itself is wrong: a name, shape, dtype, value or size (the message says which and what fits)."""

    code = grpc.StatusCode.INVALID_ARGUMENT
    http_status = 400


class ModelNotFound(RequestError):
    """The request names a model this server does not serve."""

    code = grpc.StatusCode.NOT_FOUND
    http_status = 404


class QueueFull(RequestError):
    """The bounded request queue is full: refused at once so the client can back off or try another replica."""

    code = grpc.StatusCode.RESOURCE_EXHAUSTED
    http_status = 429


class DeadlineExpired(RequestError):
    """The client's deadline passed before the request was computed; it never was."""

    code = grpc.StatusCode.DEADLINE_EXCEEDED
    http_status = 504


class ShuttingDown(RequestError):
    """The server is stopping and takes no new requests."""

    code = grpc.StatusCode.UNAVAILABLE
    http_status = 503


class ModelLoadError(Exception):
    """A model version directory cannot be served (missing, corrupt, or its signature does not fit its graph)."""
