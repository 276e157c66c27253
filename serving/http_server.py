"""The HTTP/JSON front end, after TensorFlow Serving's REST API, on its own port.

Routes
------
``POST /v1/models/NAME:predict``
    Columnar: ``{"inputs": {"x": value}}`` where each value is one sample (nested lists
    of the input's dim) or a batch of them, answered ``{"outputs": {"predict": value}}``
    in the same form. Row form: ``{"instances": [sample, ...]}``, each sample a dict
    ``{input name: value}`` or, for a one-input model, the bare value, answered
    ``{"predictions": [...]}`` with one entry per instance (the bare output for a one-output
    model, else a dict). ``"output_names": [...]`` picks outputs. Errors are
    ``{"error": message}`` with 400 (bad request; an empty or chunked body, a bad Content-Length),
    404 (unknown model or path), 405 (a route asked with the method it does not take,
    with an ``Allow`` header), 413 (body too large), 429 (queue full), 500.
``GET /v1/models/NAME``
    The model status (version, signature, counters), as the gRPC ModelStatus gives it.
``GET /metrics``
    Prometheus text format.

JSON numbers are read as float64; booleans, strings and nulls are refused.
"""

import contextlib
import json
import math
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np

from .errors import MAX_NAME_CHARS, InvalidRequest, ModelNotFound, RequestError, RequestTimeout, shown
from .ports import listen_error
from .validation import check_name_lengths

PREFIX = "/v1/models/"

# http.server's limit for the request line (answered 414 above it), and how much of a longer one is read
# and thrown away so that the client gets that answer.
MAX_REQUEST_LINE = 65536
MAX_DRAINED_BYTES = 16 << 20


def _to_array(value, name):
    """Nested JSON lists of numbers -> float64 array, or InvalidRequest naming the input."""
    try:
        array = np.array(value, dtype=object)
    except ValueError:
        raise InvalidRequest(f"input {name!r}: nested lists of unequal lengths (a ragged array)") from None
    flat = array.reshape(-1)
    if array.dtype == object and not all(type(item) in (int, float) for item in flat):
        kinds = sorted({type(item).__name__ for item in flat if type(item) not in (int, float)})
        raise InvalidRequest(
            f"input {name!r}: values must be numbers in nested lists of equal lengths, got {', '.join(kinds)}"
        )
    try:
        return array.astype(np.float64)
    except OverflowError:  # an integer written with hundreds of digits: JSON allows it, float64 does not
        raise InvalidRequest(f"input {shown(name)}: a number is too large for float64 (over about 1.8e308)") from None


def _json_value(array):
    """Nested lists; a non-finite output becomes null, since NaN and Infinity are not JSON."""
    if np.isfinite(array).all():
        return array.tolist()
    return np.where(np.isfinite(array), array.astype(object), None).tolist()


def parse_predict_body(body):
    """(inputs dict of arrays, output names, row form?) from a :predict JSON body."""
    try:
        payload = json.loads(body, parse_constant=lambda constant: math.nan)
    except (ValueError, UnicodeDecodeError) as error:
        raise InvalidRequest(f"the body is not valid JSON: {error}") from None
    except RecursionError:  # json recurses once per nesting level
        raise InvalidRequest("the body is nested too deeply: values are at most a few levels of lists") from None
    if not isinstance(payload, dict) or ("inputs" in payload) == ("instances" in payload):
        raise InvalidRequest('the body must be a JSON object with either "inputs" or "instances"')
    output_names = payload.get("output_names", [])
    if not isinstance(output_names, list) or not all(isinstance(name, str) for name in output_names):
        raise InvalidRequest('"output_names" must be a list of output names')
    check_name_lengths(output_names, "output")
    if "inputs" in payload:
        inputs = payload["inputs"]
        if not isinstance(inputs, dict):
            raise InvalidRequest('"inputs" must be an object {input name: value}')
        check_name_lengths(inputs, "input")
        return {name: _to_array(value, name) for name, value in inputs.items()}, output_names, False
    instances = payload["instances"]
    if not isinstance(instances, list) or not instances:
        raise InvalidRequest('"instances" must be a non-empty list of samples')
    return instances, output_names, True


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
    # Seconds an idle keep-alive connection is kept: bounds how long a stopping server waits for it.
    timeout = 2

    def log_message(self, format, *args):  # noqa: A002 (the stdlib signature)
        pass  # one line per request on stderr is noise; /metrics counts them

    def do_GET(self):  # noqa: N802 (the stdlib method name)
        route, name = _route(self.path)
        try:
            _check_method("GET", self.path, route)
            if route == "metrics":
                body, content_type = self.server.metrics.exposition()
                self._send(200, body, content_type)
                return
            self.server.predictor.check_name(name)
            self._send_json(200, self.server.status())
        except _WrongMethod as error:
            self._send_json(405, {"error": str(error)}, {"Allow": error.allow})
        except RequestError as error:
            self._send_json(error.http_status, {"error": error.message})

    def do_POST(self):  # noqa: N802 (the stdlib method name)
        started = time.perf_counter()
        code = "OK"
        try:
            body = self._read_body()
            route, name = _route(self.path)
            _check_method("POST", self.path, route)
            self.server.predictor.check_name(name)
            if not body:
                raise InvalidRequest(
                    'the body is empty; POST a JSON object such as {"inputs": {"x": ...}} or {"instances": [...]}'
                )
            self._send_json(200, self._predict(body))
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
        except Exception as error:  # a bug must not take the server down
            code = "INTERNAL"
            self._send_json(500, {"error": f"internal error: {type(error).__name__}: {error}"})
        self.server.metrics.record_request("http", code, time.perf_counter() - started)

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
            raise InvalidRequest(f"the Content-Length header {length!r} is not a number of bytes")
        length = int(length)
        if length > self.server.max_body_bytes:
            raise _BodyTooLarge(f"the body of {length} bytes exceeds the limit of {self.server.max_body_bytes} bytes")
        return self._read_exactly(length)

    def _read_exactly(self, length):
        """``length`` bytes of body; RequestTimeout (408) when the client stops sending them for ``timeout`` s."""
        chunks, received = [], 0
        try:
            while received < length:
                chunk = self.rfile.read1(min(length - received, 1 << 20))
                if not chunk:
                    break
                chunks.append(chunk)
                received += len(chunk)
        except TimeoutError:
            self.close_connection = True  # what the client sends later is no request of its own
            raise RequestTimeout(
                f"the body stopped after {received} of its {length} bytes (Content-Length) for {self.timeout} s"
            ) from None
        if received < length:
            self.close_connection = True
            raise InvalidRequest(f"the body ended after {received} of its {length} bytes (Content-Length)")
        return b"".join(chunks)

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

    def _predict(self, body):
        predictor = self.server.predictor
        parsed, output_names, rows = parse_predict_body(body)
        if not rows:
            outputs, version = predictor.predict(parsed, output_names)
            return {"model_version": version, "outputs": {name: _json_value(value) for name, value in outputs.items()}}
        input_names = list(predictor.store.current.inputs)
        columns = {name: [] for name in input_names}
        for index, instance in enumerate(parsed):
            if not isinstance(instance, dict):
                if len(input_names) != 1:
                    raise InvalidRequest(
                        f"instance {index}: the model has inputs {input_names}; give each instance as "
                        f"{{input name: value}}"
                    )
                instance = {input_names[0]: instance}
            check_name_lengths(instance, "input")
            unknown = sorted(set(instance) - set(columns))
            if unknown:
                raise InvalidRequest(
                    f"instance {index}: unknown input {shown(unknown[0])}; the inputs are {input_names}"
                )
            for name in input_names:
                if name not in instance:
                    raise InvalidRequest(f"instance {index}: missing input {name!r}")
                columns[name].append(_to_array(instance[name], name))
        inputs = {}
        for name, samples in columns.items():
            if len({sample.shape for sample in samples}) != 1:
                shapes = sorted({sample.shape for sample in samples})
                raise InvalidRequest(f"input {name!r}: instances have different shapes {shapes}")
            if samples[0].ndim != 2:
                raise InvalidRequest(
                    f"input {name!r}: each instance must be one sample of shape "
                    f"{predictor.store.current.inputs[name].dim}, got shape {samples[0].shape}"
                )
            inputs[name] = np.stack(samples)
        outputs, version = predictor.predict(inputs, output_names)
        names = list(outputs)
        predictions = [
            _json_value(outputs[names[0]][row])
            if len(names) == 1
            else {name: _json_value(outputs[name][row]) for name in names}
            for row in range(len(parsed))
        ]
        return {"model_version": version, "predictions": predictions}

    def _send_json(self, status, payload, headers=None):
        self._send(status, json.dumps(payload).encode(), "application/json", headers)

    def _send(self, status, body, content_type, headers=None):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        if self.server.stopping:
            self.close_connection = True
        if self.close_connection:  # stopping, or a body left unread: tell the client not to reuse the connection
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)


# Each route and the one method it takes; what to try instead of a path that is no route (404)
# and instead of a route asked with the other method (405).
ROUTE_METHODS = {"predict": "POST", "status": "GET", "metrics": "GET"}
TRY = {"POST": f"try POST {PREFIX}NAME:predict", "GET": f"try GET {PREFIX}NAME or GET /metrics"}
INSTEAD = {"POST": "send the inputs as a JSON body with POST", "GET": f"predictions are POST {PREFIX}NAME:predict"}


def _route(path):
    """(route, model name) for ``path``: a key of ROUTE_METHODS, or None for a path that is no route."""
    if path == "/metrics":
        return "metrics", None
    name = path[len(PREFIX) :] if path.startswith(PREFIX) else ""
    if name.endswith(":predict"):
        name, route = name[: -len(":predict")], "predict"
    else:
        route = "status"
    if not name or "/" in name or ":" in name:
        return None, None
    return route, name


def _check_method(method, path, route):
    """ModelNotFound (404) for no route, _WrongMethod (405) for a route that takes the other method."""
    if route is None:
        raise ModelNotFound(f"no route {method} {path}; {TRY[method]}")
    allowed = ROUTE_METHODS[route]
    if method != allowed:
        raise _WrongMethod(allowed, f"{method} {path}: this route takes {allowed} only; {INSTEAD[allowed]}")


class _BodyTooLarge(Exception):
    pass


class _WrongMethod(Exception):
    """A route that exists, asked with the wrong method: 405 with ``Allow: allow``."""

    def __init__(self, allow, message):
        super().__init__(message)
        self.allow = allow
