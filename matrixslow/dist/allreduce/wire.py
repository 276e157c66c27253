"""A ring ``Chunk`` on the wire: its data spliced in and read in place (``matrixslow.codec.wire`` says why and how)."""

from ...codec import wire
from ..proto import allreduce_pb2


def encode_chunk(header, data):
    """The serialized ``Chunk`` of ``header`` (its ``data`` left empty) with ``data`` as its data field.

    Parameters
    ----------
    header : allreduce_pb2.Chunk
    data : bytes-like
        The part's elements, contiguous (a NumPy slice is fine); copied once, into the message.
    """
    return wire.join([header.SerializeToString(), *wire.bytes_field(allreduce_pb2.Chunk.DATA_FIELD_NUMBER, data)])


def decode_chunk(message):
    """(header ``Chunk`` without data, read-only memoryview of the data) of a serialized ``Chunk``.

    Raises ``ValueError`` naming the problem when ``message`` is not a well-formed ``Chunk``.
    """
    return wire.take_bytes_field(allreduce_pb2.Chunk, message, "data")
