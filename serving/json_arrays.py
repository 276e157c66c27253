"""JSON nested lists of numbers to float64 arrays and back, without a Python object per number.

``json.loads`` makes a Python float (24 bytes) and a list slot (8 bytes) for every number, and
``np.array`` of those lists an object array on top: a 58 MB body of floats took 550 MB, a 32 MB
body of ``1``s 950 MB. ``read_array`` reads a large array in slices of about a megabyte: numpy
finds its brackets and checks that they are regular (the lists at one depth of one length, the
numbers all at the deepest), and json reads each slice's numbers, brackets blanked out, straight
into the array, so only one slice's Python floats exist at a time. ``array_pieces`` writes an
array back in slices the same way.
"""

import json
import math
import re
from itertools import pairwise

import numpy as np

from .errors import InvalidRequest

SLICE_BYTES = 1 << 20
# Slices end at a comma; an array with none for this long (a number or whitespace of a megabyte) is refused.
COMMA_GAP_BYTES = 1 << 20
# An array written in fewer bytes is read by json whole: faster for small ones, and their objects are few.
SMALL_BYTES = 4096
# Far more levels than any input takes (a batch is 3); JSON nested deeper is refused before it is read.
MAX_DEPTH = 32
# Numbers per piece of an answer.
PIECE_NUMBERS = 1 << 16

_TOKEN_CHARS = b"0123456789.eE+-NaInfity"  # the characters of numbers, NaN and Infinity
_RUN_CHARS = _TOKEN_CHARS + b"[], \t\n\r"
_RUN = re.compile(b"[" + re.escape(_RUN_CHARS) + b"]*")
OPEN, CLOSE = b"[]"


def _table(chars):
    table = np.zeros(256, dtype=bool)
    table[list(chars)] = True
    return table


_IN_RUN, _IN_TOKEN = _table(_RUN_CHARS), _table(_TOKEN_CHARS)

# NaN and Infinity become NaN, which validation refuses as not finite. Integers go to float directly
# (int() refuses more than 4300 digits), so an inf in the result is always a number too large for float64.
_DECODER = json.JSONDecoder(parse_constant=lambda constant: math.nan, parse_int=float)


class NotNumbers(InvalidRequest):
    """The value holds something other than numbers and lists (a string, boolean, null or object)."""


def read_array(body, start, what, max_bytes):
    """The JSON value at ``body[start]``, a number or nested lists of numbers, as (float64 array, end).

    Parameters
    ----------
    body : bytes or bytearray
    start : int
        Where the value begins (not whitespace).
    what : str
        How messages name the value, e.g. "input 'x'".
    max_bytes : int
        A large array of more float64 bytes than this is refused before it is allocated.

    Raises
    ------
    NotNumbers
        For a string, boolean, null or object among the numbers.
    InvalidRequest
        For lists of unequal lengths or depths, a number too large for float64, lists nested
        more than MAX_DEPTH deep, more than ``max_bytes``, or JSON that does not parse.
    """
    stop = _RUN.match(body, start, start + SMALL_BYTES).end()
    if stop == start:
        raise _not_numbers(body, start, start, what, None)
    try:
        value, length = _DECODER.raw_decode(body[start:stop].decode("ascii"))
    except RecursionError:
        raise _too_deep(what) from None
    except json.JSONDecodeError as error:
        if stop == start + SMALL_BYTES and body[start] == OPEN:  # more of it than the window: read it by slices
            return _read_large(body, start, what, max_bytes)
        if stop == len(body):
            raise InvalidRequest(f"the body is not valid JSON: it ends inside {what}") from None
        raise _not_numbers(body, start, stop, what, error) from None
    try:
        array = np.array(value, dtype=np.float64)
    except ValueError:
        raise _ragged(what) from None
    if array.ndim > MAX_DEPTH:
        raise _too_deep(what)
    return _no_overflow(array, what), start + length


def _read_large(body, start, what, max_bytes):
    """``read_array`` for an array longer than SMALL_BYTES: a pass for its end and shape, a pass for its numbers."""
    end, total, depth, first_closes = _scan(body, start, what)
    if total == 0:
        raise InvalidRequest(f"{what}: nested lists holding no numbers")
    if 8 * total > max_bytes:
        raise InvalidRequest(
            f"request too large: {what} holds {total} numbers, {8 * total} bytes as float64, over the server's "
            f"limit of {max_bytes} bytes of input values left (--max-request-bytes); split the batch"
        )
    # per_list[k]: the numbers in each list at depth k + 1, from the first such list to close.
    per_list = [total] + [first_closes[k] for k in range(2, depth + 1)] + [1]
    if min(per_list) == 0 or any(outer % inner for outer, inner in pairwise(per_list)):
        raise _ragged(what)
    shape = tuple(outer // inner for outer, inner in pairwise(per_list))
    values = np.empty(total)
    _fill(body, start, end, what, depth, per_list, values)
    return _no_overflow(values.reshape(shape), what), end


def _scan(body, start, what):
    """(end, numbers, depth of the numbers, {k: numbers before the first list at depth k closes}) of the array."""
    position, level, numbers, in_token = start, 0, 0, False
    depth, first_closes = None, {}
    while True:
        piece = np.frombuffer(body, np.uint8, min(SLICE_BYTES, len(body) - position), position)
        if not len(piece):
            raise InvalidRequest(f"the body is not valid JSON: it ends inside {what}")
        inside = _IN_RUN[piece]
        outside = None if inside.all() else int(np.argmin(inside))
        if outside is not None:
            piece = piece[:outside]
        at, opens, levels = _brackets(piece, level)
        closed = np.flatnonzero(levels == 0)
        if len(closed):  # the array ends at that bracket
            piece, kept = piece[: at[closed[0]] + 1], closed[0] + 1
            at, opens, levels = at[:kept], opens[:kept], levels[:kept]
        if levels.max(initial=0) > MAX_DEPTH:
            raise _too_deep(what)
        starts = _token_starts(piece, in_token)
        token_levels = _levels_at(starts, at, levels, level)
        if len(token_levels):
            depth = token_levels[0] if depth is None else depth
            if (token_levels != depth).any():
                raise _ragged(what)
        counts = numbers + np.searchsorted(starts, at)  # the numbers before each bracket
        for k in range(2, int(levels.max(initial=0)) + 2):
            if k not in first_closes:
                hits = np.flatnonzero(~opens & (levels == k - 1))
                if len(hits):
                    first_closes[k] = int(counts[hits[0]])
        numbers += len(starts)
        position += len(piece)
        if len(closed):
            return position, numbers, int(depth or 0), first_closes
        if outside is not None:
            raise _not_numbers(body, start, position, what, None)
        level, in_token = int(levels[-1]) if len(levels) else level, bool(_IN_TOKEN[piece[-1]])


def _fill(body, start, end, what, depth, per_list, values):
    """Check every list against the shape (``per_list``) and read the numbers into ``values``, slice by slice.

    Slices end at a comma, so each is a run of whole numbers for json once its brackets are blanked.
    Lists at depth k hold per_list[k - 1] numbers each: the j-th opens after j times that many numbers
    and closes after j + 1 times; with every number at ``depth``, that makes the array regular.
    """
    position, level, numbers = start, 0, 0
    opened, closed = np.zeros(depth + 1, np.int64), np.zeros(depth + 1, np.int64)
    while position < end:
        cut = min(position + SLICE_BYTES, end)
        if cut < end:
            comma = body.find(b",", cut, min(cut + COMMA_GAP_BYTES, end))
            if comma == -1 and end - cut > COMMA_GAP_BYTES:
                raise InvalidRequest(f"{what}: more than {COMMA_GAP_BYTES} bytes without a comma after byte {cut}")
            cut = end if comma == -1 else comma
        piece = np.frombuffer(body, np.uint8, cut - position, position)
        at, opens, levels = _brackets(piece, level)
        if levels.max(initial=0) > depth:
            raise _ragged(what)
        starts = _token_starts(piece, False)
        counts = numbers + np.searchsorted(starts, at)
        for k in range(2, depth + 1):
            for is_open, ordinals, after in ((True, opened, 0), (False, closed, 1)):
                hits = np.flatnonzero((opens == is_open) & (levels == (k if is_open else k - 1)))
                expected = (ordinals[k] + after + np.arange(len(hits))) * per_list[k - 1]
                if (counts[hits] != expected).any():
                    raise _ragged(what)
                ordinals[k] += len(hits)
        if not len(starts):  # between two commas there is always a number
            raise _invalid("expected a number", position, what)
        text = piece.copy()
        text[at] = ord(" ")
        try:
            read = _DECODER.decode("[" + text.tobytes().decode("ascii") + "]")
        except json.JSONDecodeError as error:
            raise _invalid(error.msg, position + error.pos - 1, what) from None
        if len(read) != len(starts):
            raise _invalid("numbers not separated by commas", position, what)
        values[numbers : numbers + len(read)] = read
        numbers += len(read)
        level = int(levels[-1]) if len(levels) else level
        position = cut + 1  # past the comma


def _brackets(piece, level):
    """(positions, is it "[", nesting level after it) of each bracket in ``piece``, starting from ``level``."""
    at = np.flatnonzero((piece == OPEN) | (piece == CLOSE))
    opens = piece[at] == OPEN
    return at, opens, level + np.cumsum(np.where(opens, 1, -1), dtype=np.int32)


def _levels_at(positions, at, levels, level):
    """The nesting level at each of ``positions``: that after the last bracket before it, else ``level``."""
    return np.concatenate(([level], levels))[np.searchsorted(at, positions)]


def _token_starts(piece, in_token):
    """Positions where a number (or NaN, Infinity) begins; ``in_token``: the byte before ``piece`` was in one."""
    tokens = _IN_TOKEN[piece]
    starts = np.flatnonzero(tokens[1:] & ~tokens[:-1]) + 1
    if len(tokens) and tokens[0] and not in_token:
        starts = np.concatenate(([0], starts))
    return starts


def _no_overflow(array, what):
    if np.isinf(array).any():  # Infinity itself was read as NaN: an inf is a number float64 cannot hold
        raise InvalidRequest(f"{what}: a number is too large for float64 (over about 1.8e308)")
    return array


_KINDS = ((b'"', "a string"), (b"true", "a boolean"), (b"false", "a boolean"), (b"null", "null"), (b"{", "an object"))


def _not_numbers(body, start, stop, what, error):
    """The error for a value that stops being numbers and lists at ``stop``: what is there, or where JSON fails."""
    token = stop
    while token > start and _IN_TOKEN[body[token - 1]]:
        token -= 1
    if error is not None and start + error.pos < token:
        return _invalid(error.msg, start + error.pos, what)
    word = bytes(body[token : token + 5])
    kinds = [kind for prefix, kind in _KINDS if word.startswith(prefix)]
    if not kinds:
        return _invalid("expected a number or a list", token, what)
    kind = kinds[0]
    return NotNumbers(f"{what}: values must be numbers in nested lists of equal lengths, got {kind} at byte {token}")


def _invalid(message, position, what):
    return InvalidRequest(f"the body is not valid JSON: {message} at byte {position} (in {what})")


def _ragged(what):
    return InvalidRequest(f"{what}: values must be numbers in nested lists of equal lengths (a ragged array)")


def _too_deep(what):
    return InvalidRequest(f"{what}: the body is nested too deeply: lists nested more than {MAX_DEPTH} levels")


def array_pieces(array):
    """``array`` as JSON (nested lists, a non-finite value as null), in pieces of about PIECE_NUMBERS numbers."""
    if array.ndim == 0 or array.size <= PIECE_NUMBERS:
        return [json.dumps(_json_value(array)).encode()]
    rows = max(1, PIECE_NUMBERS * len(array) // array.size)
    pieces = [b"["]
    for first in range(0, len(array), rows):
        text = json.dumps(_json_value(array[first : first + rows])).encode()
        pieces.append(text[1:-1] if first == 0 else b", " + text[1:-1])
    pieces.append(b"]")
    return pieces


def _json_value(array):
    """Nested lists; a non-finite value becomes None, since NaN and Infinity are not JSON."""
    if np.isfinite(array).all():
        return array.tolist()
    return np.where(np.isfinite(array), array.astype(object), None).tolist()
