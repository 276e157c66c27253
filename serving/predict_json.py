"""The :predict JSON body read into arrays in bounded memory, and the answer written back in pieces.

A body is an object with ``"inputs"`` ({input name: value}) or ``"instances"`` ([sample, ...]),
and optionally ``"output_names"`` ([name, ...]) and ``"signature_name"`` (a string; a server has one
signature, so it is not looked at). Other keys are refused: only these are read without building
Python objects for all they hold. Values are read by ``serving.json_arrays``; the rest is small.
"""

import json
import re

import numpy as np

from .errors import InvalidRequest, shown
from .json_arrays import NotNumbers, array_pieces, read_array
from .validation import check_name_lengths, unknown_input

KEYS = ("inputs", "instances", "output_names", "signature_name")
NOT_AN_OBJECT = 'the body must be a JSON object with either "inputs" or "instances"'
# Samples of the row form stacked together at a time, so that each small array is soon one block's part.
BLOCK_SAMPLES = 1024

_WHITESPACE = re.compile(rb"[ \t\n\r]*")
_STRING = re.compile(rb'"[^"\\\x00-\x1f]*(?:\\.[^"\\\x00-\x1f]*)*"')
_UTF8_BOM = b"\xef\xbb\xbf"


def parse_predict_body(body, model, max_request_bytes):
    """({input name: float64 array}, output names, row form?) of a :predict body.

    Parameters
    ----------
    body : bytes or bytearray
    model : LoadedModel
        The served version: its input dims shape the row form; unknown names are refused early.
    max_request_bytes : int
        The limit on input values (float64 bytes), enforced while reading.

    Raises InvalidRequest naming the key, input or byte that is wrong.
    """
    cursor = Cursor(body, 3 if body.startswith(_UTF8_BOM) else 0)
    if cursor.peek() != b"{":
        raise InvalidRequest(NOT_AN_OBJECT)
    budget = Budget(max_request_bytes)
    fields = {}
    for key in cursor.members("in the body"):
        if key == "inputs":
            fields[key] = _inputs(cursor, model, budget)
        elif key == "instances":
            fields[key] = _instances(cursor, model, budget)
        elif key == "output_names":
            fields[key] = _output_names(cursor, model)
        elif key == "signature_name":
            cursor.string('as "signature_name"')
        else:
            raise InvalidRequest(f"unknown key {shown(key)} in the body; a :predict body takes {', '.join(KEYS)}")
    cursor.finish()
    if ("inputs" in fields) == ("instances" in fields):
        raise InvalidRequest(NOT_AN_OBJECT)
    output_names = fields.get("output_names", [])
    if "inputs" in fields:
        return fields["inputs"], output_names, False
    if fields["instances"] is None:
        raise InvalidRequest('"instances" must be a non-empty list of samples')
    return fields["instances"], output_names, True


def answer_pieces(version, outputs, rows):
    """The JSON answer as a list of bytes: ``{"model_version", "outputs": {name: value}}``, or
    ``"predictions"`` (one entry per instance) for the row form."""
    head = b'{"model_version": %d, ' % version
    names = list(outputs)
    if not rows:
        pieces = [head + b'"outputs": {']
        for index, name in enumerate(names):
            pieces.append((b", " if index else b"") + _key(name))
            pieces += array_pieces(outputs[name])
        return [*pieces, b"}}"]
    if len(names) == 1:  # each prediction is the bare output: the rows of the output array
        return [head + b'"predictions": ', *array_pieces(outputs[names[0]]), b"}"]
    pieces = [head + b'"predictions": [']
    for row in range(len(outputs[names[0]])):
        entry = b", ".join(_key(name) + b"".join(array_pieces(outputs[name][row])) for name in names)
        pieces.append((b", {" if row else b"{") + entry + b"}")
    return [*pieces, b"]}"]


def _key(name):
    return json.dumps(name).encode() + b": "


def _inputs(cursor, model, budget):
    if cursor.peek() != b"{":
        raise InvalidRequest('"inputs" must be an object {input name: value}')
    dims = model.input_dims()
    inputs = {}
    for name in cursor.members('in "inputs"'):
        check_name_lengths([name], "input")
        if name not in dims:
            raise InvalidRequest(unknown_input(name, dims))
        inputs[name] = budget.take(cursor.array(f"input {shown(name)}", budget.left))
    return inputs


def _instances(cursor, model, budget):
    """{input name: (B, *dim) batch} of the row form, or None for an empty list."""
    if cursor.peek() != b"[":
        raise InvalidRequest('"instances" must be a non-empty list of samples')
    dims = model.input_dims()
    names = list(dims)
    start = cursor.position
    try:  # one-input models: bare samples, all numbers, are one array of the whole batch
        batch = cursor.array('"instances"', budget.left)
    except NotNumbers:
        cursor.position = start
    else:
        if not len(batch):
            return None
        if len(names) != 1:
            raise InvalidRequest(
                f"instance 0: the model has inputs {names}; give each instance as {{input name: value}}"
            )
        _check_sample(names[0], dims[names[0]], batch.shape[1:])
        return {names[0]: budget.take(batch)}
    columns = {name: _Column(name, dims[name]) for name in names}
    count = 0
    for index in cursor.elements('in "instances"'):
        count += 1
        if cursor.peek() != b"{":
            if len(names) != 1:
                raise InvalidRequest(
                    f"instance {index}: the model has inputs {names}; give each instance as {{input name: value}}"
                )
            columns[names[0]].add(index, budget.take(cursor.array(f"instance {index}", budget.left)))
            continue
        given = set()
        for name in cursor.members(f"in instance {index}"):
            check_name_lengths([name], "input")
            if name not in columns:
                raise InvalidRequest(f"instance {index}: unknown input {shown(name)}; the inputs are {names}")
            sample = cursor.array(f"instance {index}: input {shown(name)}", budget.left)
            columns[name].add(index, budget.take(sample))
            given.add(name)
        missing = [name for name in names if name not in given]
        if missing:
            raise InvalidRequest(f"instance {index}: missing input {missing[0]!r}")
    if not count:
        return None
    return {name: column.batch() for name, column in columns.items()}


def _output_names(cursor, model):
    """The names asked for, each once (the answer has one entry per name), every one an output of ``model``."""
    if cursor.peek() != b"[":
        raise InvalidRequest('"output_names" must be a list of output names')
    names = []
    for _ in cursor.elements('in "output_names"'):
        if cursor.peek() != b'"':
            raise InvalidRequest('"output_names" must be a list of output names')
        name = cursor.string('in "output_names"')
        check_name_lengths([name], "output")
        if name not in model.outputs:
            raise InvalidRequest(f"unknown output {shown(name)}; the model's outputs are {list(model.outputs)}")
        if name not in names:
            names.append(name)
    return names


def _check_sample(name, dim, shape):
    if len(shape) != 2:
        raise InvalidRequest(f"input {name!r}: each instance must be one sample of shape {dim}, got shape {shape}")


class _Column:
    """One input's samples of the row form, stacked into blocks as they come."""

    def __init__(self, name, dim):
        self.name, self.dim = name, dim
        self.shape, self.blocks, self.samples = None, [], []

    def add(self, index, sample):
        if self.shape is None:
            _check_sample(self.name, self.dim, sample.shape)
            self.shape, self.first = sample.shape, index
        elif sample.shape != self.shape:
            raise InvalidRequest(
                f"input {self.name!r}: instances have different shapes: instance {self.first} has {self.shape}, "
                f"instance {index} has {sample.shape}"
            )
        self.samples.append(sample)
        if len(self.samples) == BLOCK_SAMPLES:
            self.blocks.append(np.stack(self.samples))
            self.samples = []

    def batch(self):
        if self.samples:
            self.blocks.append(np.stack(self.samples))
            self.samples = []
        return self.blocks[0] if len(self.blocks) == 1 else np.concatenate(self.blocks)


class Budget:
    """The float64 bytes of input values still allowed (--max-request-bytes)."""

    def __init__(self, max_bytes):
        self.max_bytes, self.left = max_bytes, max_bytes

    def take(self, array):
        self.left -= array.nbytes
        if self.left < 0:
            raise InvalidRequest(
                f"request too large: more than {self.max_bytes} bytes of input values as float64, the server's "
                "limit (--max-request-bytes); split the batch"
            )
        return array


class Cursor:
    """A position in the body and the few JSON forms around the arrays: objects, lists, strings."""

    def __init__(self, body, position=0):
        self.body, self.position = body, position

    def peek(self):
        """The next byte that is not whitespace (b"" at the end); the position moves to it."""
        self.position = _WHITESPACE.match(self.body, self.position).end()
        return self.body[self.position : self.position + 1]

    def expect(self, char, where):
        if self.peek() != char:
            self.fail(f"expected {char.decode()!r} {where}")
        self.position += 1

    def string(self, where):
        self.peek()
        match = _STRING.match(self.body, self.position)
        if match is None:
            self.fail(f"expected a string {where}")
        try:
            value = json.loads(match.group())
        except ValueError as error:  # a bad escape, or bytes that are not UTF-8
            self.fail(f"a string {where} does not decode ({error})")
        self.position = match.end()
        return value

    def array(self, what, max_bytes):
        self.peek()
        array, self.position = read_array(self.body, self.position, what, max_bytes)
        return array

    def members(self, where):
        """Each key of the object here, with the position at its value (which the caller reads)."""
        self.expect(b"{", where)
        if self.peek() == b"}":
            self.position += 1
            return
        while True:
            key = self.string(f"as a key {where}")
            self.expect(b":", f"after the key {shown(key)} {where}")
            yield key
            if self._next_or_end(b"}", where):
                return

    def elements(self, where):
        """Each index of the list here, with the position at its element (which the caller reads)."""
        self.expect(b"[", where)
        if self.peek() == b"]":
            self.position += 1
            return
        index = 0
        while True:
            yield index
            if self._next_or_end(b"]", where):
                return
            index += 1

    def _next_or_end(self, closing, where):
        """True past ``closing``; False past a comma; else the body is not JSON."""
        found = self.peek()
        if found not in (b",", closing):
            self.fail(f"expected ',' or {closing.decode()!r} {where}")
        self.position += 1
        return found == closing

    def finish(self):
        if self.peek():
            self.fail("expected the end of the body after its object")

    def fail(self, message):
        raise InvalidRequest(f"the body is not valid JSON: {message} at byte {self.position}")
