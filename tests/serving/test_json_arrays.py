"""Reading nested JSON lists of numbers into arrays by slices: the same result as json.loads and np.array, or a 400."""

import json
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from matrixslow.serving import json_arrays
from matrixslow.serving.errors import InvalidRequest
from matrixslow.serving.json_arrays import NotNumbers, array_pieces, read_array

NO_LIMIT = 1 << 40
NUMBERS = ["0", "1", "-2.5", "1e3", "3.25E-2", "NaN", "-Infinity", "17"]


@pytest.fixture(params=[(1 << 20, 4096), (7, 1), (64, 1)], ids=["default", "7-byte-slices", "64-byte-slices"])
def slices(request, monkeypatch):
    """Tiny slices put every slice boundary (a bracket, a number, a comma) to the test on small arrays."""
    slice_bytes, small_bytes = request.param
    monkeypatch.setattr(json_arrays, "SLICE_BYTES", slice_bytes)
    monkeypatch.setattr(json_arrays, "SMALL_BYTES", small_bytes)
    monkeypatch.setattr(json_arrays, "COMMA_GAP_BYTES", 1 << 20)


def reference(text):
    """What json.loads and np.array make of ``text``, or None where they fail (or overflow to inf)."""
    try:
        array = np.array(json.loads(text, parse_constant=lambda constant: math.nan), dtype=np.float64)
    except (ValueError, RecursionError):
        return None
    return None if np.isinf(array).any() else array


def read(text):
    """read_array of ``text`` followed by more JSON, or None for an InvalidRequest (or a value ending early)."""
    body = text.encode() + b', "next": 1}'
    try:
        array, end = read_array(body, 0, "input 'x'", NO_LIMIT)
    except InvalidRequest:
        return None
    return array if end == len(text) else None


def regular(draw_number, shape):
    if not shape:
        return draw_number()
    return "[" + ", ".join(regular(draw_number, shape[1:]) for _ in range(shape[0])) + "]"


shapes = st.lists(st.integers(1, 4), min_size=1, max_size=4).map(tuple)
# ``slices`` sets the same sizes for every example of a test, so sharing it between examples is what is meant.
SHARED_SLICES = [HealthCheck.function_scoped_fixture]


@settings(max_examples=60, deadline=None, suppress_health_check=SHARED_SLICES)
@given(shape=shapes, data=st.data())
def test_regular_arrays_read_exactly_as_json_reads_them(slices, shape, data):
    text = regular(lambda: data.draw(st.sampled_from(NUMBERS)), shape)
    array = read(text)
    assert array is not None and array.shape == shape, text
    np.testing.assert_array_equal(array, reference(text))


@settings(max_examples=150, deadline=None, suppress_health_check=SHARED_SLICES)
@given(shape=shapes, edits=st.lists(st.tuples(st.floats(0, 1), st.sampled_from(list("[], 1e-.")), st.booleans())))
def test_damaged_arrays_are_read_or_refused_exactly_when_json_reads_or_refuses_them(slices, shape, edits):
    text = list(regular(lambda: "1", shape))
    for where, char, insert in edits:
        index = int(where * (len(text) - 1))
        if insert:
            text.insert(index, char)
        else:
            text[index] = char
    text = "".join(text).lstrip()
    expected, got = reference(text), read(text)
    if expected is not None and expected.size == 0 and len(text) > json_arrays.SMALL_BYTES:
        expected = None  # large lists of no numbers are refused by design (no input takes them)
    assert (got is None) == (expected is None), text
    if got is not None:
        assert got.shape == expected.shape and np.array_equal(got, expected, equal_nan=True), text


def test_a_large_array_is_read_by_slices(monkeypatch):
    batch = np.random.default_rng(0).normal(size=(3000, 8, 8))
    text = json.dumps(batch.tolist())
    monkeypatch.setattr(json_arrays, "SLICE_BYTES", 64 << 10)
    decoded = []
    monkeypatch.setattr(json_arrays, "_DECODER", _Recording(decoded))
    array = read(text)
    np.testing.assert_array_equal(array, batch)
    assert len(decoded) > 10 and max(decoded) < 2 * (64 << 10)  # never the whole text at once


class _Recording(json.JSONDecoder):
    def __init__(self, lengths):
        super().__init__(parse_constant=lambda constant: math.nan, parse_int=float)
        self.lengths = lengths

    def decode(self, text, *args, **kwargs):
        self.lengths.append(len(text))
        return super().decode(text, *args, **kwargs)


@pytest.mark.parametrize(
    ("text", "kind"),
    [('[[1], ["a"]]', "a string"), ("[[1, true]]", "a boolean"), ("[null]", "null"), ('[{"a": 1}]', "an object")],
)
def test_something_other_than_numbers_is_named(slices, text, kind):
    with pytest.raises(NotNumbers, match=f"^input 'x': values must be numbers in nested lists .*, got {kind} at byte"):
        read_array(text.encode() + b"}", 0, "input 'x'", NO_LIMIT)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[[1, 2], [3]]", r"input 'x': values must be numbers in nested lists of equal lengths \(a ragged array\)"),
        ("[1, [2]]", r"\(a ragged array\)"),
        ("[1e400]", r"input 'x': a number is too large for float64"),
        ("[1" + "0" * 400 + "]", r"input 'x': a number is too large for float64"),
        ("[" * 40 + "1" + "]" * 40, r"input 'x': the body is nested too deeply: lists nested more than 32 levels"),
        ("[" * 100_000 + "]" * 100_000, r"nested too deeply"),
        ("[1,, 2]", r"^the body is not valid JSON: .* at byte 3 \(in input 'x'\)"),
        ("[[1, 2", r"^the body is not valid JSON: it ends inside input 'x'"),
    ],
)
def test_bad_arrays_are_refused_naming_the_problem(slices, text, message):
    body = text.encode() + (b"" if "ends inside" in message else b"}")
    with pytest.raises(InvalidRequest, match=message):
        read_array(body, 0, "input 'x'", NO_LIMIT)


def test_a_large_array_over_the_byte_limit_is_refused_before_it_is_allocated(monkeypatch):
    monkeypatch.setattr(json_arrays, "_fill", None)  # reading the numbers would fail: the refusal must come first
    text = json.dumps(np.zeros((1000, 4, 1)).tolist())
    with pytest.raises(InvalidRequest, match=r"^request too large: input 'x' holds 4000 numbers, 32000 bytes"):
        read_array(text.encode() + b"}", 0, "input 'x'", 31_999)


@pytest.mark.parametrize("shape", [(), (3,), (2, 5), (40_000, 4, 1)])
def test_array_pieces_join_into_the_json_of_the_array(shape):
    array = np.random.default_rng(1).normal(size=shape)
    if array.size > 1:
        array.flat[1] = np.nan  # not JSON: written as null
    pieces = array_pieces(array)
    expected = np.where(np.isnan(array), None, array).tolist() if array.size > 1 else array.tolist()
    assert json.loads(b"".join(pieces)) == expected
    assert max(len(piece) for piece in pieces) < 64 * json_arrays.PIECE_NUMBERS
