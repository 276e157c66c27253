"""A ring ``Chunk`` on the wire: its data spliced in and read in place (see ``dist.wire`` for why and how)."""

from google.protobuf.message import DecodeError

from .. import wire
from ..proto import allreduce_pb2

DATA_FIELD = allreduce_pb2.Chunk.DESCRIPTOR.fields_by_name["data"].number


def encode_chunk(header, data):
    """The serialized ``Chunk`` of ``header`` (its ``data`` left empty) with ``data`` as its data field.

    Parameters
    ----------
    header : allreduce_pb2.Chunk
    data : bytes-like
        The part's elements, contiguous (a NumPy slice is fine); copied once, into the message.
    """
    return wire.join([header.SerializeToString(), *wire.bytes_field(DATA_FIELD, data)])


def decode_chunk(message):
    """(header ``Chunk`` without data, read-only memoryview of the data) of a serialized ``Chunk``.

    Raises ``ValueError`` naming the problem when ``message`` is not a well-formed ``Chunk``.
    """
    rest, data = wire.take_fields(message, DATA_FIELD)
    try:
        header = allreduce_pb2.Chunk.FromString(rest)
    except DecodeError as error:
        raise ValueError(f"not a Chunk message: {error}") from None
    return header, data[-1] if data else memoryview(b"")  # protobuf keeps the last of a repeated scalar field
