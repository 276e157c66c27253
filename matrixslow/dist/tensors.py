"""NumPy arrays on the wire: ``Tensor`` messages, chunking under the gRPC size limit, channel options.

A ``Tensor`` carries the dtype name, the shape and the raw C-order bytes, always little-endian,
so two machines of either byte order read the same numbers.
"""

import math

import numpy as np

from .proto.tensor_pb2 import Tensor

# dtype names allowed on the wire; everything else (object, strings, complex, datetime) is refused.
SUPPORTED_DTYPES = frozenset(
    ["bool", "int8", "int16", "int32", "int64", "uint8", "float16", "float32", "float64"],
)

# Room left in each message for everything that is not tensor bytes (field tags, lengths, chunk metadata).
ENVELOPE_BYTES = 4096

# gRPC stores message limits in a signed 32-bit int.
GRPC_MAX_MESSAGE_BYTES = 2**31 - 1


def _wire_dtype(dtype, name):
    """The little-endian dtype for ``dtype``, or a ValueError naming the tensor."""
    dtype = np.dtype(dtype)
    if dtype.name not in SUPPORTED_DTYPES:
        raise ValueError(
            f"tensor {name!r}: dtype {dtype.name!r} cannot be sent; expected one of {sorted(SUPPORTED_DTYPES)}"
        )
    return dtype.newbyteorder("<")


def to_proto(array, name="tensor"):
    """Pack an array into a ``Tensor`` message.

    Parameters
    ----------
    array : array_like
        Any shape, including a scalar; big-endian input is converted to little-endian.
    name : str
        Used in error messages only.

    Returns
    -------
    Tensor
    """
    array = np.asarray(array)
    wire_dtype = _wire_dtype(array.dtype, name)
    # astype(copy=False) is free for little-endian input; tobytes is the one copy protobuf needs.
    data = array.astype(wire_dtype, copy=False).tobytes(order="C")
    return Tensor(dtype=wire_dtype.name, shape=array.shape, data=data)


def from_proto(tensor, name="tensor"):
    """Unpack a ``Tensor`` message into an array, without copying the bytes.

    Parameters
    ----------
    tensor : Tensor
    name : str
        Used in error messages only.

    Returns
    -------
    numpy.ndarray
        A read-only view of the message bytes with a little-endian dtype; ``.copy()`` it to write.

    Raises
    ------
    ValueError
        If the dtype is not supported, a dimension is negative, or the byte count is not
        prod(shape) * itemsize.
    """
    # Only the exact names to_proto writes: a string like ">f4" would otherwise be misread as little-endian.
    if tensor.dtype not in SUPPORTED_DTYPES:
        raise ValueError(f"tensor {name!r}: unknown dtype {tensor.dtype!r}; expected one of {sorted(SUPPORTED_DTYPES)}")
    wire_dtype = np.dtype(tensor.dtype).newbyteorder("<")
    shape = tuple(tensor.shape)
    if any(size < 0 for size in shape):
        raise ValueError(f"tensor {name!r}: shape {shape} has a negative dimension")
    expected_bytes = math.prod(shape) * wire_dtype.itemsize
    if len(tensor.data) != expected_bytes:
        raise ValueError(
            f"tensor {name!r}: {len(tensor.data)} data bytes do not match shape {shape} of {wire_dtype.name} "
            f"(expected {expected_bytes} = {math.prod(shape)} elements x {wire_dtype.itemsize} bytes)"
        )
    return np.frombuffer(tensor.data, dtype=wire_dtype).reshape(shape)


def max_chunk_bytes(max_message_bytes):
    """Largest tensor payload that fits a message of ``max_message_bytes`` with its envelope."""
    room = int(max_message_bytes) - ENVELOPE_BYTES
    if room <= 0:
        raise ValueError(
            f"max_message_bytes={max_message_bytes} leaves no room for data; "
            f"it must exceed the {ENVELOPE_BYTES}-byte envelope"
        )
    return room


def split_payload(array, max_message_bytes, name="tensor"):
    """Cut an array into flat ``Tensor`` parts that each fit one gRPC message.

    Parameters
    ----------
    array : array_like
        Flattened in C order; the receiver restores the shape in ``join_payload``.
    max_message_bytes : int
        The message limit of the channel (see ``channel_options``); each part carries at most
        ``max_message_bytes - ENVELOPE_BYTES`` data bytes, cut on element boundaries.
    name : str
        Used in error messages only.

    Returns
    -------
    list of Tensor
        1-D parts in order; an empty array gives one empty part, so its dtype still travels.
    """
    flat = np.asarray(array).reshape(-1)
    wire_dtype = _wire_dtype(flat.dtype, name)
    per_part = max_chunk_bytes(max_message_bytes) // wire_dtype.itemsize
    if per_part == 0:
        raise ValueError(
            f"tensor {name!r}: max_message_bytes={max_message_bytes} cannot hold one {wire_dtype.name} element"
        )
    starts = range(0, max(flat.size, 1), per_part)
    return [
        to_proto(flat[start : start + per_part], name=f"{name}[part {index}]") for index, start in enumerate(starts)
    ]


def join_payload(parts, shape=None, name="tensor"):
    """Reassemble the parts made by ``split_payload``.

    Parameters
    ----------
    parts : sequence of Tensor
        In the order ``split_payload`` returned them.
    shape : tuple of int, optional
        Shape of the original array; by default the flat 1-D result is returned.
    name : str
        Used in error messages only.

    Returns
    -------
    numpy.ndarray
        A new writable array.
    """
    if not parts:
        raise ValueError(f"tensor {name!r}: no parts to join; split_payload always sends at least one")
    pieces = [from_proto(part, name=f"{name}[part {index}]") for index, part in enumerate(parts)]
    dtypes = {piece.dtype.name for piece in pieces}
    if len(dtypes) != 1:
        raise ValueError(f"tensor {name!r}: parts disagree on dtype: {sorted(dtypes)}")
    if any(piece.ndim != 1 for piece in pieces):
        raise ValueError(f"tensor {name!r}: parts must be 1-D, got shapes {[piece.shape for piece in pieces]}")
    flat = np.concatenate(pieces)
    if shape is None:
        return flat
    shape = tuple(shape)
    if math.prod(shape) != flat.size:
        raise ValueError(f"tensor {name!r}: {flat.size} elements received cannot take shape {shape}")
    return flat.reshape(shape)


def server_options(max_message_bytes):
    """``channel_options`` plus what a server needs: refuse a port another process already holds.

    gRPC sets SO_REUSEPORT on Linux by default, so a second server on a busy port would
    start and silently share its connections with the first; a port in use must be an error.
    """
    return channel_options(max_message_bytes) + [("grpc.so_reuseport", 0)]


def bind(server, address, who):
    """``server.add_insecure_port(address)``, with an error that says who could not listen where, and why."""
    try:
        port = server.add_insecure_port(address)
    except RuntimeError as error:
        port, cause = 0, error
    else:
        cause = None
    if port == 0:
        raise RuntimeError(
            f"{who} cannot listen on {address}: the port is in use or the host is not this machine's"
        ) from cause
    return port


def channel_options(max_message_bytes):
    """gRPC channel/server options that raise both message limits to ``max_message_bytes``.

    gRPC refuses received messages over 4 MB by default; pass the same options to
    ``grpc.server(..., options=...)`` and ``grpc.insecure_channel(..., options=...)``.
    """
    if isinstance(max_message_bytes, bool) or not isinstance(max_message_bytes, int | np.integer):
        raise TypeError(f"max_message_bytes must be an int, got {type(max_message_bytes).__name__}")
    if not 0 < max_message_bytes <= GRPC_MAX_MESSAGE_BYTES:
        raise ValueError(f"max_message_bytes={max_message_bytes} must be in 1 .. {GRPC_MAX_MESSAGE_BYTES}")
    size = int(max_message_bytes)
    return [
        ("grpc.max_send_message_length", size),
        ("grpc.max_receive_message_length", size),
    ]
