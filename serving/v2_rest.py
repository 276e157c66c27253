"""The Open Inference Protocol (KServe v2) over HTTP, beside the v1 routes on the same port.

Routes
------
``GET /v2/health/live``, ``GET /v2/health/ready``
    200 with an empty body; ready is 503 once the server is stopping.
``GET /v2``
    The server metadata.
``GET /v2/models/NAME[/versions/N]``, ``GET /v2/models/NAME[/versions/N]/ready``
    The model metadata (shapes with -1 for the batch axis); readiness as 200 or 404.
``POST /v2/models/NAME[/versions/N]/infer``
    ``{"id", "parameters", "inputs": [{"name", "datatype", "shape", "data"}], "outputs": [{"name"}]}``
    with ``data`` flat or nested in row-major order; or, with the header
    ``Inference-Header-Content-Length: L``, that JSON in the first L bytes and each input with
    ``"parameters": {"binary_data_size": n}`` in the n bytes after, in order (little-endian).
    Outputs come back as JSON ``data``, or as binary data when the request asks
    (``"binary_data": true`` on an output, ``"binary_data_output": true`` on the request).

Errors are the v1 API's, ``{"error": message}`` with the same statuses (400, 404, 405, 413, 429, 503...):
the request goes through the same validation, batcher and version pinning.
"""

import json
import re

from .errors import InvalidRequest, ShuttingDown, shown, version_digits
from .json_arrays import array_pieces
from .predict_json import Budget, Cursor
from .v2_models import model_metadata, model_ready, server_metadata
from .v2_tensors import checked_shape, datatype_of, dtype_of, from_raw, from_values, to_raw

PREFIX = "/v2"
HEADER_LENGTH = "Inference-Header-Content-Length"

# Each v2 route and the one method it takes.
ROUTE_METHODS = {
    "v2_live": "GET",
    "v2_ready": "GET",
    "v2_server": "GET",
    "v2_metadata": "GET",
    "v2_model_ready": "GET",
    "v2_infer": "POST",
}
TRY = {
    "POST": "try POST /v2/models/NAME/infer or /v2/models/NAME/versions/N/infer",
    "GET": "try GET /v2/health/live, /v2/health/ready, /v2/models/NAME[/versions/N][/ready]",
}
INSTEAD = {"POST": "send the inputs as a JSON body with POST", "GET": "inference is POST /v2/models/NAME/infer"}

INPUT_KEYS = ("name", "datatype", "shape", "parameters", "data")
BODY_KEYS = ("id", "parameters", "inputs", "outputs")
_SCALAR = re.compile(rb"true|false|null|-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")


def route(path):
    """(route, model name, version or None) of a /v2 ``path``; the route is a key of ROUTE_METHODS or None."""
    health = {"/v2/health/live": "v2_live", "/v2/health/ready": "v2_ready", "/v2": "v2_server"}
    if path in health:
        return health[path], None, None
    if not path.startswith("/v2/models/"):
        return None, None, None
    parts = path[len("/v2/models/") :].split("/")
    name, rest = parts[0], parts[1:]
    version = None
    if rest[:1] == ["versions"]:
        version = version_digits(rest[1] if len(rest) > 1 else "")
        if version is None:
            return None, None, None
        rest = rest[2:]
    kind = {(): "v2_metadata", ("ready",): "v2_model_ready", ("infer",): "v2_infer"}.get(tuple(rest))
    if kind is None or not name:
        return None, None, None
    return kind, name, version


def get(server, kind, name, version):
    """(status, JSON payload or None for an empty body) of a GET route; RequestError for what is not served."""
    if kind == "v2_live":
        return 200, None
    if kind == "v2_ready":
        if server.stopping:
            raise ShuttingDown("the server is stopping and takes no new requests")
        return 200, None
    if kind == "v2_server":
        return 200, server_metadata()
    if kind == "v2_model_ready":
        model_ready(server.predictor, name, version)
        return 200, None
    return 200, model_metadata(server.predictor, name, version)


def infer(predictor, version, body, headers):
    """(answer pieces, content type, headers) of POST .../infer; RequestError naming what is wrong."""
    if not body:
        raise InvalidRequest('the body is empty; POST a JSON object such as {"inputs": [{"name": ...}]}')
    request = parse_infer_body(
        body, _header_length(headers, len(body)), predictor.model_for(version), predictor.max_request_bytes
    )
    outputs, computed_by = predictor.predict(request.inputs, request.output_names, version=version)
    return answer(predictor.model_name, computed_by, request, outputs)


class InferRequest:
    """A parsed infer body: ``inputs`` {name: array}, ``output_names``, which outputs go back as binary, ``id``."""

    def __init__(self):
        self.inputs, self.output_names, self.binary, self.id = {}, [], set(), None
        self.asked = {}  # output name -> its binary_data parameter (None: not given)


def parse_infer_body(body, header_length, model, max_request_bytes):
    """The InferRequest of ``body``, whose JSON is its first ``header_length`` bytes (None: all of it).

    Numbers in ``data`` are read by ``serving.json_arrays`` (no Python object per number); binary
    data is viewed in ``body`` where it lies, not copied.
    """
    header = body if header_length is None else bytes(body[:header_length])
    cursor = Cursor(header)
    if cursor.peek() != b"{":
        raise InvalidRequest('the body must be a JSON object with "inputs"')
    budget = Budget(max_request_bytes)
    request, tensors, all_binary = InferRequest(), [], False
    for key in cursor.members("in the body"):
        if key == "id":
            request.id = cursor.string('as "id"')
        elif key == "parameters":
            all_binary = _parameters(cursor, "in the request's parameters").get("binary_data_output") is True
        elif key == "inputs":
            tensors = [_input(cursor, index, budget) for index in cursor.elements('in "inputs"')]
        elif key == "outputs":
            _outputs(cursor, model, request)
        else:
            raise InvalidRequest(f"unknown key {shown(key)} in the body; an infer body takes {', '.join(BODY_KEYS)}")
    cursor.finish()
    if not tensors:
        raise InvalidRequest('the body has no "inputs": give a list of {"name", "datatype", "shape", "data"}')
    json_end = offset = len(body) if header_length is None else header_length
    for tensor in tensors:
        name = tensor["name"]
        if name in request.inputs:
            raise InvalidRequest(f'input {shown(name)} is given twice in "inputs"')
        request.inputs[name], offset = _array(tensor, body, offset)
    if offset != len(body):
        raise InvalidRequest(
            f"the body holds {len(body) - json_end} bytes of binary data after its JSON, but "
            f"its inputs' binary_data_size add up to {offset - json_end}"
        )
    asked = request.asked or dict.fromkeys(model.outputs)
    request.output_names = list(asked)
    request.binary = {name for name, binary in asked.items() if binary is True or (binary is None and all_binary)}
    return request


def answer(model_name, version, request, outputs):
    """The infer answer as pieces: JSON, then the binary outputs' bytes (its length in the HEADER_LENGTH header)."""
    head = {"model_name": model_name, "model_version": str(version)}
    if request.id is not None:
        head["id"] = request.id
    pieces = [json.dumps(head)[:-1].encode() + b', "outputs": [']
    blobs = []
    for index, name in enumerate(outputs):
        value = outputs[name]
        meta = {"name": name, "datatype": datatype_of(value.dtype), "shape": list(value.shape)}
        comma = b", " if index else b""
        if name in request.binary:
            blobs.append(to_raw(value))
            meta["parameters"] = {"binary_data_size": len(blobs[-1])}
            pieces.append(comma + json.dumps(meta).encode())
        else:
            pieces.append(comma + json.dumps(meta)[:-1].encode() + b', "data": ')
            pieces += [*array_pieces(value.ravel()), b"}"]
    pieces.append(b"]}")
    if not blobs:
        return pieces, "application/json", None
    length = sum(len(piece) for piece in pieces)
    return [*pieces, *blobs], "application/octet-stream", {HEADER_LENGTH: str(length)}


def _header_length(headers, body_length):
    """The JSON part's length from the HEADER_LENGTH header (None without it); InvalidRequest for a bad one."""
    text = headers.get(HEADER_LENGTH)
    if text is None:
        return None
    if not (text.strip().isascii() and text.strip().isdigit()) or int(text) > body_length:
        raise InvalidRequest(
            f"the {HEADER_LENGTH} header {shown(text)} is not a byte count within the body's {body_length} bytes"
        )
    return int(text)


def _input(cursor, index, budget):
    """One entry of "inputs" as a dict of what it says (``data`` as float64)."""
    if cursor.peek() != b"{":
        raise InvalidRequest(f'"inputs"[{index}] must be an object {{"name", "datatype", "shape", "data"}}')
    tensor = {"index": index, "parameters": {}}
    for key in cursor.members(f'in "inputs"[{index}]'):
        where = f'"inputs"[{index}]' if "name" not in tensor else f"input {shown(tensor['name'])}"
        if key in ("name", "datatype"):
            tensor[key] = cursor.string(f"as the {key} of {where}")
        elif key == "shape":
            tensor[key] = cursor.array(f"the shape of {where}", 8 * 64)
        elif key == "parameters":
            tensor[key] = _parameters(cursor, f"in the parameters of {where}")
        elif key == "data":
            if "datatype" in tensor:  # BYTES said first: refused as such, not as strings among numbers
                dtype_of(tensor["datatype"], tensor.get("name", where))
            tensor[key] = budget.take(cursor.array(where if "name" in tensor else f"the data of {where}", budget.left))
        else:
            raise InvalidRequest(f"unknown key {shown(key)} in {where}; an input takes {', '.join(INPUT_KEYS)}")
    for key in ("name", "datatype", "shape"):
        if key not in tensor:
            named = f"input {shown(tensor['name'])}" if "name" in tensor else f'"inputs"[{index}]'
            raise InvalidRequest(f'{named} has no "{key}"; an input takes {", ".join(INPUT_KEYS)}')
    return tensor


def _array(tensor, body, offset):
    """(the input's array, the offset of the next binary data) of a parsed input."""
    name, datatype = tensor["name"], tensor["datatype"]
    if tensor["shape"].ndim != 1:
        raise InvalidRequest(f"input {shown(name)}: shape must be a list of integers, got {tensor['shape'].tolist()}")
    shape = checked_shape(tensor["shape"], name)
    size = tensor["parameters"].get("binary_data_size")
    if size is None:
        if "data" not in tensor:
            raise InvalidRequest(f'input {shown(name)} has no "data" and no binary_data_size parameter')
        return from_values(tensor["data"], datatype, shape, name), offset
    if "data" in tensor:
        raise InvalidRequest(f'input {shown(name)} has both "data" and binary data (binary_data_size); send one')
    if isinstance(size, bool) or not isinstance(size, int) or size < 0 or offset + size > len(body):
        raise InvalidRequest(
            f"input {shown(name)}: binary_data_size {size!r} is not a byte count within the "
            f"{len(body) - offset} bytes of binary data left in the body"
        )
    return from_raw(body, datatype, shape, name, offset, size), offset + size


def _outputs(cursor, model, request):
    """Read "outputs" into ``request.asked``: each name asked for (an output of ``model``) -> its binary_data."""
    for index in cursor.elements('in "outputs"'):
        name, binary = None, None
        for key in cursor.members(f'in "outputs"[{index}]'):
            if key == "name":
                name = cursor.string(f'as the name of "outputs"[{index}]')
            elif key == "parameters":
                binary = _parameters(cursor, f'in the parameters of "outputs"[{index}]').get("binary_data")
            else:
                raise InvalidRequest(
                    f'unknown key {shown(key)} in "outputs"[{index}]; an output takes name, parameters'
                )
        if name is None:
            raise InvalidRequest(f'"outputs"[{index}] has no "name"')
        if name not in model.outputs:
            raise InvalidRequest(f"unknown output {shown(name)}; the model's outputs are {list(model.outputs)}")
        request.asked[name] = binary


def _parameters(cursor, where):
    """A "parameters" object: {key: bool, number, string or None}; InvalidRequest for a list or object value."""
    if cursor.peek() != b"{":
        raise InvalidRequest(f"expected an object of parameters {where}")
    parameters = {}
    for key in cursor.members(where):
        if cursor.peek() == b'"':
            parameters[key] = cursor.string(f"as parameter {shown(key)} {where}")
            continue
        match = _SCALAR.match(cursor.body, cursor.position)
        if match is None:
            raise InvalidRequest(f"parameter {shown(key)} {where} must be a bool, a number or a string")
        parameters[key] = json.loads(match.group())
        cursor.position = match.end()
    return parameters
