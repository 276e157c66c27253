"""Tensors as streams of ``TensorPart`` messages: cutting arrays into parts and putting them back together.

Init, Push and Pull stream their tensors in messages of at most ``PART_BYTES`` of data: gRPC in
Python moves a stream of 1 MiB messages several times faster than one 64 MB message, and a
message of any model size then stays under the channel's limit. Small parts share a message
(``messages``): every message of a stream costs a round trip through gRPC's Python threads.
``encode_message`` and ``decode_message`` put the parts into a message and take them out with
their data copied once on sending and viewed in place on receiving (see ``matrixslow.codec.wire``).
"""

import itertools
import math

import numpy as np

from ...codec import wire
from ...codec.tensors import SUPPORTED_DTYPES, max_chunk_bytes
from ..proto import parameter_server_pb2 as pb

# 1 MiB: big enough that per-message costs vanish, small enough to pipeline (one part is handled
# while the next is on the wire) and to be reused by the allocator (see launch.ALLOCATOR_ENV).
PART_BYTES = 1 << 20


def part_bytes(max_message_bytes):
    """Data bytes per part: ``PART_BYTES``, or less when the channel's message limit is smaller."""
    return min(PART_BYTES, max_chunk_bytes(max_message_bytes))


def tensor_parts(arrays, size=PART_BYTES):
    """The fields of a ``TensorPart`` for every slice of at most ``size`` bytes of ``{name: array}``, in name order.

    Dicts whose ``data`` is a memoryview of the array: nothing is copied until ``encode_message``.
    An empty array still gives one part, so its dtype and shape travel. Dtypes are checked at once
    (a ValueError naming the tensor); the parts are made lazily, one at a time, as gRPC sends them.
    """
    wire_arrays = {name: _wire_array(arrays[name], name) for name in sorted(arrays)}
    return _slices(wire_arrays, size)


def _wire_array(array, name):
    array = np.asarray(array)
    if array.dtype.name not in SUPPORTED_DTYPES:
        raise ValueError(
            f"tensor {name!r}: dtype {array.dtype.name!r} cannot be sent; expected one of {sorted(SUPPORTED_DTYPES)}"
        )
    # C order and little-endian: no copy for the usual array, one for a transposed or big-endian one.
    return np.asarray(array, dtype=array.dtype.newbyteorder("<"), order="C")


def _slices(wire_arrays, size):
    for name, array in wire_arrays.items():
        data = memoryview(array).cast("B") if array.size else memoryview(b"")
        for offset in range(0, max(len(data), 1), size):
            yield {
                "name": name,
                "dtype": array.dtype.name,
                "shape": array.shape,
                "offset": offset,
                "data": data[offset : offset + size],
            }


def messages(arrays, size=PART_BYTES):
    """The parts of ``{name: array}`` grouped into lists of at most ``size`` bytes, one list per message.

    Always at least one list (maybe empty), so that a stream always has a first message for its header.
    """
    batches = _batches(tensor_parts(arrays, size), size)
    first = next(batches, [])  # made now: a bad dtype raises here, in the caller, not inside gRPC's threads
    return itertools.chain([first], batches)


def _batches(parts, size):
    batch, batch_bytes = [], 0
    for fields in parts:
        part_size = len(fields["data"]) + _part_envelope_bytes(fields)
        if batch and batch_bytes + part_size > size:
            yield batch
            batch, batch_bytes = [], 0
        batch.append(fields)
        batch_bytes += part_size
    if batch:
        yield batch


def encode_message(envelope, field, parts):
    """``envelope`` (an InitPart, PushPart or PullPart, header only or empty) with ``parts`` in its
    repeated ``TensorPart`` field ``field``, serialized; each part's data is copied once, here."""
    number = envelope.DESCRIPTOR.fields_by_name[field].number
    pieces = [envelope.SerializeToString()]
    for fields in parts:
        head = pb.TensorPart(name=fields["name"], dtype=fields["dtype"], shape=fields["shape"], offset=fields["offset"])
        data = wire.bytes_field(pb.TensorPart.DATA_FIELD_NUMBER, fields["data"])
        pieces += wire.message_field(number, [head.SerializeToString(), *data])
    return wire.join(pieces)


def decode_message(message_type, field, message):
    """(the message without its parts, [(``TensorPart`` without data, data memoryview), ...]) of ``message``.

    Raises ValueError when ``message`` is not a well-formed ``message_type``.
    """
    rest, part_messages = wire.take_fields(message, message_type.DESCRIPTOR.fields_by_name[field].number)
    parts = [wire.take_bytes_field(pb.TensorPart, part_message, "data") for part_message in part_messages]
    return wire.parse(message_type, rest), parts


def _part_envelope_bytes(fields):
    """At least the bytes a part takes on the wire besides its data (field tags, lengths, name, dtype, shape)."""
    # Counted so that thousands of tiny tensors sharing a message still fit the message limit.
    return len(fields["name"].encode()) + 10 * len(fields["shape"]) + 64


class PartCollector:
    """Puts ``TensorPart`` messages back into whole arrays, checking that every byte arrives once, in order.

    Parameters
    ----------
    who : str
        Who sends the parts, for error messages (``"worker 1"``, ``"shard 127.0.0.1:5000"``).
    """

    def __init__(self, who):
        self.who = who
        self._arrays = {}  # name -> flat little-endian array being filled
        self._shapes = {}
        self._received = {}  # name -> bytes received so far

    def add_all(self, parts):
        """``add`` every ``(part, data)`` of ``decode_message``."""
        for part, data in parts:
            self.add(part, data)

    def add(self, part, data):
        """Copy one part's ``data`` (bytes-like) into its array; raises ValueError on a part that does not fit."""
        name = part.name
        if part.dtype not in SUPPORTED_DTYPES:
            raise ValueError(f"{self.who}: tensor {name!r} has unknown dtype {part.dtype!r}")
        dtype, shape = np.dtype(part.dtype).newbyteorder("<"), tuple(part.shape)
        if name not in self._arrays:
            if any(size < 0 for size in shape):
                raise ValueError(f"{self.who}: tensor {name!r} has negative dimensions {shape}")
            self._arrays[name] = np.empty(math.prod(shape), dtype=dtype)
            self._shapes[name] = shape
            self._received[name] = 0
        flat = self._arrays[name]
        if shape != self._shapes[name] or dtype != flat.dtype:
            raise ValueError(
                f"{self.who}: parts of tensor {name!r} disagree: {self._shapes[name]} {flat.dtype.name} "
                f"then {shape} {dtype.name}"
            )
        data = memoryview(data).cast("B")
        # Parts of one tensor come in order (a gRPC stream keeps it), so each must start where the last ended.
        if part.offset != self._received[name] or len(data) % dtype.itemsize or part.offset + len(data) > flat.nbytes:
            raise ValueError(
                f"{self.who}: part of tensor {name!r} at byte {part.offset} with {len(data)} bytes does not continue "
                f"its {self._received[name]} bytes received of {flat.nbytes} ({dtype.name})"
            )
        start = part.offset // dtype.itemsize
        flat[start : start + len(data) // dtype.itemsize] = np.frombuffer(data, dtype=dtype)
        self._received[name] += len(data)

    def arrays(self):
        """``{name: array}`` of everything received; raises ValueError if a tensor is incomplete."""
        for name, flat in self._arrays.items():
            if self._received[name] != flat.nbytes:
                raise ValueError(
                    f"{self.who}: tensor {name!r} is incomplete: {self._received[name]} of {flat.nbytes} bytes arrived"
                )
        return {name: flat.reshape(self._shapes[name]) for name, flat in self._arrays.items()}
