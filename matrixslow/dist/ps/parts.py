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
from .dtypes import dtype_name

# 1 MiB: big enough that per-message costs vanish, small enough to pipeline (one part is handled
# while the next is on the wire) and to be reused by the allocator (see launch.ALLOCATOR_ENV).
PART_BYTES = 1 << 20

# Up to this size protobuf builds and parses a whole message quicker than ``wire`` splices and
# walks it in Python (its copies of the data cost less than the per-part work): a small model's
# step is one such message each way. Above it the parts are big and the copies dominate.
SMALL_MESSAGE_BYTES = 64 << 10

# Each supported dtype as it travels (little-endian), by name: made once, not for every part.
WIRE_DTYPES = {name: np.dtype(name).newbyteorder("<") for name in SUPPORTED_DTYPES}


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
    wire_dtype = WIRE_DTYPES.get(dtype_name(array.dtype))
    if wire_dtype is None:
        raise ValueError(
            f"tensor {name!r}: dtype {array.dtype.name!r} cannot be sent; expected one of {sorted(SUPPORTED_DTYPES)}"
        )
    # C order and little-endian: no copy for the usual array, one for a transposed or big-endian one.
    return np.asarray(array, dtype=wire_dtype, order="C")


def _slices(wire_arrays, size):
    for name, array in wire_arrays.items():
        data = memoryview(array).cast("B") if array.size else memoryview(b"")
        for offset in range(0, max(len(data), 1), size):
            yield {
                "name": name,
                "dtype": dtype_name(array.dtype),
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
    parts = list(parts)
    if sum(len(fields["data"]) for fields in parts) <= SMALL_MESSAGE_BYTES:
        return _encode_small(envelope, field, parts)
    number = envelope.DESCRIPTOR.fields_by_name[field].number
    pieces = [envelope.SerializeToString()]
    for fields in parts:
        head = pb.TensorPart(name=fields["name"], dtype=fields["dtype"], shape=fields["shape"], offset=fields["offset"])
        data = wire.bytes_field(pb.TensorPart.DATA_FIELD_NUMBER, fields["data"])
        pieces += wire.message_field(number, [head.SerializeToString(), *data])
    return wire.join(pieces)


def _encode_small(envelope, field, parts):
    # The same bytes, by protobuf: for a small message its copy of the data costs less than splicing in Python.
    message = type(envelope)()
    message.CopyFrom(envelope)
    add = getattr(message, field).add  # built in place: ``extend`` would copy every part once more
    for fields in parts:
        add(
            name=fields["name"],
            dtype=fields["dtype"],
            shape=fields["shape"],
            offset=fields["offset"],
            data=bytes(fields["data"]),
        )
    return message.SerializeToString()


def fits_one_message(arrays, size=PART_BYTES):
    """Whether ``{name: array}`` goes whole into one message of ``size`` data bytes (see ``encode_whole``)."""
    return (
        sum(np.asarray(array).nbytes + _envelope_bytes(name, np.ndim(array)) for name, array in arrays.items()) <= size
    )


def encode_whole(envelope, field, arrays):
    """``envelope`` with every array of ``{name: array}`` whole in one part of ``field``, serialized.

    A small model's step in one message (``fits_one_message``), without cutting anything into
    parts first; ``decode_message`` reads it as any other.
    """
    largest = max((np.asarray(array).nbytes for array in arrays.values()), default=0)
    if largest > SMALL_MESSAGE_BYTES:  # spliced, as big tensors are: protobuf would copy their data twice more
        return encode_message(envelope, field, tensor_parts(arrays, size=largest))
    message = type(envelope)()
    message.CopyFrom(envelope)
    add = getattr(message, field).add
    for name in sorted(arrays):
        array = _wire_array(arrays[name], name)
        add(name=name, dtype=dtype_name(array.dtype), shape=array.shape, data=array.tobytes())
    return message.SerializeToString()


def decode_message(message_type, field, message):
    """(the message without its parts, [(``TensorPart``, its data, bytes-like), ...]) of ``message``.

    The message comes without its parts. A big message is split by ``wire``: each part comes
    without its data, which is a memoryview into ``message``. A small one is parsed by protobuf,
    its data copied. Raises ValueError when ``message`` is not a well-formed ``message_type``.
    """
    if len(message) <= SMALL_MESSAGE_BYTES:
        envelope = wire.parse(message_type, message)
        parts = [(part, part.data) for part in getattr(envelope, field)]
        envelope.ClearField(field)
        return envelope, parts
    rest, part_messages = wire.take_fields(message, message_type.DESCRIPTOR.fields_by_name[field].number)
    parts = [wire.take_bytes_field(pb.TensorPart, part_message, "data") for part_message in part_messages]
    return wire.parse(message_type, rest), parts


def _part_envelope_bytes(fields):
    """At least the bytes a part takes on the wire besides its data (field tags, lengths, name, dtype, shape)."""
    return _envelope_bytes(fields["name"], len(fields["shape"]))


def _envelope_bytes(name, ndim):
    # Counted so that thousands of tiny tensors sharing a message still fit the message limit.
    return len(name.encode()) + 10 * ndim + 64


class PartCollector:
    """Puts ``TensorPart`` messages back into whole arrays, checking that every byte arrives once, in order.

    Parameters
    ----------
    who : str
        Who sends the parts, for error messages (``"worker 1"``, ``"shard 127.0.0.1:5000"``).
    copy : bool
        False: a tensor that comes whole in one part is a read-only view of its data, not a copy,
        for a receiver that only reads what it receives (a shard adding up gradients).
    """

    def __init__(self, who, copy=True):
        self.who = who
        self.copy = copy
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
        dtype = WIRE_DTYPES.get(part.dtype)
        if dtype is None:
            raise ValueError(f"{self.who}: tensor {name!r} has unknown dtype {part.dtype!r}")
        shape = tuple(part.shape)
        data = memoryview(data).cast("B")
        flat = self._arrays.get(name)
        if flat is None:
            if min(shape, default=0) < 0:
                raise ValueError(f"{self.who}: tensor {name!r} has negative dimensions {shape}")
            size = math.prod(shape)
            if part.offset == 0 and len(data) == size * dtype.itemsize:  # the whole tensor in one part
                whole = np.frombuffer(data, dtype=dtype)  # read-only, and ``data`` belongs to the message
                self._arrays[name] = whole.copy() if self.copy else whole
                self._shapes[name], self._received[name] = shape, len(data)
                return
            flat = self._arrays[name] = np.empty(size, dtype=dtype)
            self._shapes[name] = shape
            self._received[name] = 0
        if shape != self._shapes[name] or dtype != flat.dtype:
            raise ValueError(
                f"{self.who}: parts of tensor {name!r} disagree: {self._shapes[name]} {flat.dtype.name} "
                f"then {shape} {dtype.name}"
            )
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
