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


class RequestTimeout(RequestError):
    """The client stopped sending its request midway (HTTP only: a body shorter than its Content-Length)."""

    code = grpc.StatusCode.DEADLINE_EXCEEDED
    http_status = 408


class ShuttingDown(RequestError):
    """The server is stopping and takes no new requests."""

    code = grpc.StatusCode.UNAVAILABLE
    http_status = 503


class ModelLoadError(Exception):
    """A model version directory cannot be served (missing, corrupt, or its signature does not fit its graph)."""


# Client-chosen names (model, input, output) longer than this are refused: no model needs them, and
# an error that echoed a 4 MB name whole would overflow gRPC's metadata limit (8 KiB) and lose its status.
MAX_NAME_CHARS = 256

# A version in a path or a v2 version string is an int64, as in the gRPC request: longer digit strings are none.
MAX_VERSION_DIGITS = 18


def version_digits(text):
    """The number a path's or v2 string's version ``text`` spells (ASCII digits, at most MAX_VERSION_DIGITS), or None.

    isascii: "²" is a digit to isdigit but no number to int.
    """
    if text.isascii() and text.isdigit() and len(text) <= MAX_VERSION_DIGITS:
        return int(text)
    return None


# How much of a client's string an error message repeats.
SHOWN_CHARS = 64


def shown(name, quote=True):
    """``name`` as error messages quote it: its repr (or itself, ``quote=False``, for a path), cut to
    ``SHOWN_CHARS`` characters with its length said."""
    form = repr if quote else str
    if len(name) <= SHOWN_CHARS:
        return form(name)
    return f"{form(name[:SHOWN_CHARS])}... ({len(name)} characters)"
