"""NumPy arrays on the wire: ``Tensor`` messages, the data room per message under the gRPC size limit, options.

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


def server_options(max_message_bytes):
    """``channel_options`` plus what a server needs: refuse a port another process already holds.

    gRPC sets SO_REUSEPORT on Linux by default, so a second server on a busy port would
    start and silently share its connections with the first; a port in use must be an error.
    """
    return channel_options(max_message_bytes) + [("grpc.so_reuseport", 0)]


def bind(server, address, who, credentials=None):
    """``server.add_insecure_port(address)``, with an error that says who could not listen where, and why.

    With ``credentials`` (``grpc.ServerCredentials``, e.g. ``PeerTLS.server_credentials()``) the port
    serves TLS only, through ``add_secure_port``.
    """
    try:
        port = (
            server.add_insecure_port(address) if credentials is None else server.add_secure_port(address, credentials)
        )
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
