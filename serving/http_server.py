"""The HTTP/JSON front end, after TensorFlow Serving's REST API, on its own port.

Routes
------
``POST /v1/models/NAME:predict``, ``POST /v1/models/NAME/versions/N:predict``
    Columnar: ``{"inputs": {"x": value}}`` where each value is one sample (nested lists
    of the input's dim) or a batch of them, answered ``{"outputs": {"predict": value}}``
    in the same form. Row form: ``{"instances": [sample, ...]}``, each sample a dict
    ``{input name: value}`` or, for a one-input model, the bare value, answered
    ``{"predictions": [...]}`` with one entry per instance (the bare output for a one-output
    model, else a dict). ``"output_names": [...]`` picks outputs. Errors are
    ``{"error": message}`` with 400 (bad request; an empty or chunked body, a bad Content-Length),
    404 (unknown model or path), 405 (a route asked with the method it does not take,
    with an ``Allow`` header), 408 (the body stopped short of its Content-Length), 413 (body too
    large), 414 (request line over 64 KiB), 429 (queue full), 500. The first form runs on
    the newest version served, the second on version N if it is loaded (404 naming the
    versions served if not; see ``--keep-versions``).
``GET /v1/models/NAME``, ``GET /v1/models/NAME/versions/N``
    The model status (the newest or version N, its signature, the versions loaded and failed,
    counters), as the gRPC ModelStatus gives it.
``GET /metrics``
    Prometheus text format.
``/v2/...``
    The Open Inference Protocol (KServe v2) on the same path into the model: see ``serving.v2_rest``.

JSON numbers are read as float64; booleans, strings and nulls are refused. The body is read
into arrays without a Python object per number (serving.predict_json), so a request's peak
memory is at most 4x its body plus the model's own (its inputs as float64, the forward pass).
"""

import contextlib
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from . import v2_rest
from .errors import (
    MAX_NAME_CHARS,
    InvalidRequest,
    ModelNotFound,
    RequestError,
    RequestTimeout,
    shown,
    version_digits,
)
from .ports import listen_error
from .predict_json import answer_pieces, parse_predict_body

PREFIX = "/v1/models/"
VERSIONS = "/versions/"

# http.server's limit for the request line (answered 414 above it), and how much of a longer one is read
# and thrown away so that the client gets that answer.
MAX_REQUEST_LINE = 65536
MAX_DRAINED_BYTES = 16 << 20


# How long a new TLS connection may take to say hello and finish its handshake (in its own thread);
# like RequestHandler.timeout, it bounds how long a stopping server waits for a silent client.
HANDSHAKE_SECONDS = 5

# The answer to plain HTTP on a TLS port: a JSON error saying so, rather than a reset connection.
_HTTPS_ONLY = b'{"error": "this port serves HTTPS only; use https://"}'
PLAIN_HTTP_ON_TLS_PORT = (
    b"HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nConnection: close\r\n"
    b"Content-Length: %d\r\n\r\n%s" % (len(_HTTPS_ONLY), _HTTPS_ONLY)
)


class ServingHTTPServer(ThreadingHTTPServer):
    """ThreadingHTTPServer that waits for its request threads on close (so SIGTERM finishes them).

    With ``ssl_context`` it serves HTTPS: the accept loop only accepts, and each connection's
    TLS handshake runs in that connection's thread, so one slow client cannot stall the others.
    """

    daemon_threads = False
    block_on_close = True
    allow_reuse_address = True
    # The listen backlog. socketserver's 5 made a burst of 200 connections wait 28 s on SYN
    # retransmits; the kernel caps this at net.core.somaxconn.
    request_queue_size = socket.SOMAXCONN

    def __init__(self, address, predictor, status, metrics, max_body_bytes, port_flag=None, ssl_context=None):
        """Bind ``address`` (host, port); serving.ports.PortUnavailable, naming ``port_flag``, if it cannot.

        ``ssl_context`` (``ssl.SSLContext``, server side) serves TLS; None serves plaintext.
        """
        self.predictor = predictor
        self.status = status
        self.metrics = metrics
        self.max_body_bytes = max_body_bytes
        self.ssl_context = ssl_context
        self.stopping = False
        try:
            super().__init__(address, RequestHandler)
        except OSError as error:
            raise listen_error("the HTTP server", *address, error, port_flag) from None

    def finish_request(self, request, client_address):
        """Serve one connection, in its own thread; over TLS, shake hands first."""
        if self.ssl_context is None:
            super().finish_request(request, client_address)
            return
        tls = self._handshake(request)
        if tls is None:
            return
        try:
            super().finish_request(tls, client_address)
        finally:
            self.shutdown_request(tls)  # wrapping detached ``request``: close the TLS socket in its place

    def _handshake(self, request):
        """The TLS socket over ``request``, or None for a client that does not speak TLS (it is answered or dropped)."""
        request.settimeout(HANDSHAKE_SECONDS)
        try:
            if request.recv(1, socket.MSG_PEEK).isalpha():  # "GET ...": plain HTTP, where TLS begins with 0x16
                request.recv(65536)  # read what came, so closing does not reset the connection before our answer
                request.sendall(PLAIN_HTTP_ON_TLS_PORT)
                return None
            return self.ssl_context.wrap_socket(request, server_side=True)
        except OSError:  # ssl.SSLError, a timeout, or a client gone: only this connection is affected
            return None

    def start(self):
        self._thread = threading.Thread(target=self.serve_forever, name="serving-http", daemon=True)
        self._thread.start()

    def stop_accepting(self):
        """Accept no new connections; answers on open ones say ``Connection: close``."""
        self.stopping = True
        self.shutdown()

    def finish(self):
        """Wait for the request threads still running (idle keep-alive connections time out)."""
        self.server_close()


class RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "matrixslow-serving"
    # An answer goes out in several writes (headers, then its pieces): with Nagle's algorithm each write after
    # the first waited for the client's delayed ACK, 40 ms per request on a keep-alive connection.
    disable_nagle_algorithm = True
    # Seconds an idle keep-alive connection is kept: bounds how long a stopping server waits for it.
    timeout = 2

    def log_message(self, format, *args):  # noqa: A002 (the stdlib signature)
        pass  # one line per request on stderr is noise; /metrics counts them

    def do_GET(self):  # noqa: N802 (the stdlib method name)
        route, name, version = _route(self.path)
        try:
            _check_method("GET", self.path, route)
            if route == "metrics":
                body, content_type = self.server.metrics.exposition()
                self._send(200, body, content_type)
                return
            if route in v2_rest.ROUTE_METHODS:
                status, payload = v2_rest.get(self.server, route, name, version)
                if payload is None:  # v2 health and readiness answer by their status alone
                    self._send(status, b"", "text/plain")
                else:
                    self._send_json(status, payload)
                return
            self.server.predictor.check_name(name)
            self._send_json(200, self.server.status(version))
        except _WrongMethod as error:
            self._send_json(405, {"error": str(error)}, {"Allow": error.allow})
        except RequestError as error:
            self._send_json(error.http_status, {"error": error.message})

    def do_POST(self):  # noqa: N802 (the stdlib method name)
        started = time.perf_counter()
        code = "OK"
        route, name, version = _route(self.path)
        try:
            body = self._read_body()
            _check_method("POST", self.path, route)
            self.server.predictor.check_name(name)
            if route == "v2_infer":
                self._send(200, *v2_rest.infer(self.server.predictor, version, body, self.headers))
                return
            if not body:
                raise InvalidRequest(
                    'the body is empty; POST a JSON object such as {"inputs": {"x": ...}} or {"instances": [...]}'
                )
            predictor = self.server.predictor
            request = parse_predict_body(body, predictor.model_for(version), predictor.max_request_bytes)
            del body  # read into arrays: a large body's memory goes before the model runs
            self._send(200, self._predict(*request, version), "application/json")
        except RequestError as error:
            code = error.code.name
            self._send_json(error.http_status, {"error": error.message})
        except _WrongMethod as error:
            code = "UNIMPLEMENTED"
            self._send_json(405, {"error": str(error)}, {"Allow": error.allow})
        except _BodyTooLarge as error:
            code = "RESOURCE_EXHAUSTED"
            self.close_connection = True  # the unread body would be taken for the next request
            self._send_json(413, {"error": str(error)})
            self._discard(error.length)
        except Exception as error:  # a bug must not take the server down
            code = "INTERNAL"
            self._send_json(500, {"error": f"internal error: {type(error).__name__}: {error}"})
        finally:
            self.server.metrics.record_request(_protocol(route), code, time.perf_counter() - started)

    def _read_body(self):
        """The request's body: b"" when it has none; InvalidRequest for a body we cannot delimit."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self.close_connection = True  # the unread chunks would be taken for the next request
            raise InvalidRequest("chunked bodies are not supported; send the body with a Content-Length header")
        length = self.headers.get("Content-Length")
        if length is None:
            return b""  # HTTP/1.1: a request with neither header has no body
        if not length.strip().isdigit():
            self.close_connection = True
            raise InvalidRequest(f"the Content-Length header {shown(length)} is not a number of bytes")
        length = int(length)
        if length > self.server.max_body_bytes:
            raise _BodyTooLarge(length, self._too_large(length))
        return self._read_exactly(length)

    def _too_large(self, length):
        return f"the body of {length} bytes exceeds the limit of {self.server.max_body_bytes} bytes"

    def handle_expect_100(self):
        """Refuse a body over the limit before it is sent, to a client that asks first (curl does for large ones)."""
        length = self.headers.get("Content-Length", "").strip()
        if not (length.isdigit() and int(length) > self.server.max_body_bytes):
            return super().handle_expect_100()
        self.close_connection = True
        self._send_json(413, {"error": self._too_large(int(length))})
        self.server.metrics.record_request(_protocol(_route(self.path)[0]), "RESOURCE_EXHAUSTED", 0.0)
        return False

    def _discard(self, length):
        """Read and drop a refused body (up to what an allowed one may be), so the client can read the answer:
        closing a socket with unread data resets it, and the client loses what we sent."""
        left = min(length, max(self.server.max_body_bytes, MAX_DRAINED_BYTES))
        with contextlib.suppress(OSError):  # a timeout or a client gone: it is closed either way
            while left > 0 and (chunk := self.rfile.read1(min(left, 1 << 20))):
                left -= len(chunk)

    def _read_exactly(self, length):
        """``length`` bytes of body; RequestTimeout (408) when the client stops sending them for ``timeout`` s."""
        # Grown as it comes (a bytearray grows in place), where chunks joined at the end would take twice
        # the memory, and a body allocated whole at once would let a client that sends nothing hold it.
        body = bytearray()
        try:
            while len(body) < length:
                chunk = self.rfile.read1(min(length - len(body), 1 << 20))
                if not chunk:
                    break
                body += chunk
        except TimeoutError:
            self.close_connection = True  # what the client sends later is no request of its own
            raise RequestTimeout(
                f"the body stopped after {len(body)} of its {length} bytes (Content-Length) for {self.timeout} s"
            ) from None
        if len(body) < length:
            self.close_connection = True
            raise InvalidRequest(f"the body ended after {len(body)} of its {length} bytes (Content-Length)")
        return body

    def send_error(self, code, message=None, explain=None):
        """http.server's own errors (a request line or headers it cannot take) as JSON, like ours."""
        if code == 414:
            message = (
                f"the request line is longer than {MAX_REQUEST_LINE} bytes; "
                f"model names are at most {MAX_NAME_CHARS} characters"
            )
        self.close_connection = True
        self._send_json(code, {"error": message or self.responses.get(code, ("error",))[0]})

    def handle_one_request(self):
        super().handle_one_request()
        if len(getattr(self, "raw_requestline", b"")) > MAX_REQUEST_LINE:
            # http.server answered 414 and closes; reading the rest of the line first lets the client see the
            # answer (closing a socket with unread data resets it, and the client loses what was sent).
            self._drain_line()

    def _drain_line(self):
        with contextlib.suppress(OSError):
            for _ in range(MAX_DRAINED_BYTES // MAX_REQUEST_LINE):
                if self.rfile.readline(MAX_REQUEST_LINE).endswith(b"\n"):
                    break

    def _predict(self, inputs, output_names, rows, version):
        """The answer, as pieces of JSON."""
        outputs, computed_by = self.server.predictor.predict(inputs, output_names, version=version)
        return answer_pieces(computed_by, outputs, rows)

    def _send_json(self, status, payload, headers=None):
        self._send(status, json.dumps(payload).encode(), "application/json", headers)

    def _send(self, status, body, content_type, headers=None):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        pieces = body if isinstance(body, list) else [body]  # a large answer comes in pieces, never joined
        self.send_header("Content-Length", str(sum(len(piece) for piece in pieces)))
        if self.server.stopping:
            self.close_connection = True
        if self.close_connection:  # stopping, or a body left unread: tell the client not to reuse the connection
            self.send_header("Connection", "close")
        self.end_headers()
        for piece in pieces:
            self.wfile.write(piece)


# Each route and the one method it takes; what to try instead of a path that is no route (404)
# and instead of a route asked with the other method (405).
ROUTE_METHODS = {"predict": "POST", "status": "GET", "metrics": "GET", **v2_rest.ROUTE_METHODS}
TRY = {
    "POST": f"try POST {PREFIX}NAME:predict or {PREFIX}NAME{VERSIONS}N:predict",
    "GET": f"try GET {PREFIX}NAME, {PREFIX}NAME{VERSIONS}N or /metrics",
}
INSTEAD = {"POST": "send the inputs as a JSON body with POST", "GET": f"predictions are POST {PREFIX}NAME:predict"}


def _route(path):
    """(route, model name, version or None) for ``path``; the route is a key of ROUTE_METHODS, or None
    for a path that is no route (a version must be ASCII digits, at most MAX_VERSION_DIGITS)."""
    if path == "/metrics":
        return "metrics", None, None
    if path == v2_rest.PREFIX or path.startswith(v2_rest.PREFIX + "/"):
        return v2_rest.route(path)
    name = path[len(PREFIX) :] if path.startswith(PREFIX) else ""
    if name.endswith(":predict"):
        name, route = name[: -len(":predict")], "predict"
    else:
        route = "status"
    version = None
    if VERSIONS in name:
        name, digits = name.split(VERSIONS, 1)
        version = version_digits(digits)
        if version is None:
            return None, None, None
    if not name or "/" in name or ":" in name:
        return None, None, None
    return route, name, version


def _check_method(method, path, route):
    """ModelNotFound (404) for no route, _WrongMethod (405) for a route that takes the other method."""
    tries, instead = (v2_rest.TRY, v2_rest.INSTEAD) if path.startswith(v2_rest.PREFIX) else (TRY, INSTEAD)
    if route is None:
        raise ModelNotFound(f"no route {method} {shown(path, quote=False)}; {tries[method]}")
    allowed = ROUTE_METHODS[route]
    if method != allowed:
        raise _WrongMethod(
            allowed, f"{method} {shown(path, quote=False)}: this route takes {allowed} only; {instead[allowed]}"
        )


def _protocol(route):
    """The ``protocol`` label of a request's metrics: "http" for the v1 API, "http_v2" for the v2 routes."""
    return "http_v2" if route in v2_rest.ROUTE_METHODS else "http"


class _BodyTooLarge(Exception):
    """A Content-Length over the limit: 413, then the body is read and dropped (``length`` bytes)."""

    def __init__(self, length, message):
        super().__init__(message)
        self.length = length


class _WrongMethod(Exception):
    """A route that exists, asked with the wrong method: 405 with ``Allow: allow``."""

    def __init__(self, allow, message):
        super().__init__(message)
        self.allow = allow
