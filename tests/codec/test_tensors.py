"""matrixslow.codec.tensors: arrays to Tensor messages and back, the data room per message, channel options."""

import struct

import numpy as np
import pytest

from matrixslow.codec.proto.tensor_pb2 import Tensor
from matrixslow.codec.tensors import (
    ENVELOPE_BYTES,
    channel_options,
    from_proto,
    max_chunk_bytes,
    to_proto,
)

# struct format letters give an independent little-endian encoding to compare with.
STRUCT_CODES = {"float32": "f", "float64": "d", "int64": "q"}
WIRE_DTYPES = {"float32": "<f4", "float64": "<f8", "int64": "<i8"}
SHAPES = [(), (0,), (17,), (3, 4), (2, 3, 4)]


def _sample(dtype, shape):
    rng = np.random.default_rng(7)
    values = rng.normal(scale=1e3, size=shape)
    return values.astype(dtype)


def _little_endian_bytes(array):
    flat = [v.item() for v in np.asarray(array).reshape(-1)]
    return struct.pack("<" + STRUCT_CODES[np.dtype(array.dtype).name] * len(flat), *flat)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", ["float32", "float64", "int64"])
@pytest.mark.parametrize("byte_order", ["<", ">"])
def test_round_trip_is_exact_and_little_endian_on_the_wire(dtype, shape, byte_order):
    array = _sample(np.dtype(dtype).newbyteorder(byte_order), shape)
    message = to_proto(array)

    assert message.dtype == dtype
    assert tuple(message.shape) == shape
    assert message.data == _little_endian_bytes(array)

    received = from_proto(Tensor.FromString(message.SerializeToString()))
    assert received.shape == shape
    assert received.dtype.str == WIRE_DTYPES[dtype]
    assert received.tobytes() == _little_endian_bytes(array)
    np.testing.assert_array_equal(received, array)


def test_non_contiguous_input_is_sent_in_c_order():
    array = np.arange(12, dtype=np.float64).reshape(3, 4).T
    received = from_proto(to_proto(array))
    assert received.tolist() == [[0, 4, 8], [1, 5, 9], [2, 6, 10], [3, 7, 11]]


def test_from_proto_does_not_copy_and_is_read_only():
    message = to_proto(np.arange(5, dtype=np.float32))
    received = from_proto(message)
    assert not received.flags.writeable
    assert not received.flags.owndata


@pytest.mark.parametrize("bad", [np.array(["a", "b"]), np.array([1 + 2j]), np.array([object()])])
def test_to_proto_refuses_unsupported_dtypes_naming_the_tensor(bad):
    with pytest.raises(ValueError, match=r"tensor 'Hidden/W:0'.*cannot be sent"):
        to_proto(bad, name="Hidden/W:0")


@pytest.mark.parametrize("dtype", ["complex64", ">f4", "f4", "", "object"])
def test_from_proto_refuses_unknown_dtype_names(dtype):
    message = Tensor(dtype=dtype, shape=[1], data=b"\0" * 4)
    with pytest.raises(ValueError, match=r"tensor 'grad'.*unknown dtype"):
        from_proto(message, name="grad")


@pytest.mark.parametrize(
    ("shape", "byte_count"),
    [((3, 4), 47), ((3, 4), 49), ((), 0), ((0,), 4), ((17,), 17 * 8)],
)
def test_from_proto_refuses_byte_count_not_matching_shape(shape, byte_count):
    message = Tensor(dtype="float32", shape=shape, data=b"\1" * byte_count)
    with pytest.raises(ValueError, match=rf"tensor 'x'.*{byte_count} data bytes do not match shape"):
        from_proto(message, name="x")


def test_from_proto_refuses_negative_dimensions():
    with pytest.raises(ValueError, match="negative dimension"):
        from_proto(Tensor(dtype="float32", shape=[-1, 4], data=b""))


def test_max_chunk_bytes_leaves_the_envelope_out_and_refuses_limits_without_room():
    assert max_chunk_bytes(1 << 20) == (1 << 20) - ENVELOPE_BYTES
    with pytest.raises(ValueError, match="no room"):
        max_chunk_bytes(ENVELOPE_BYTES)


def test_channel_options_set_both_limits():
    assert channel_options(64 << 20) == [
        ("grpc.max_send_message_length", 64 << 20),
        ("grpc.max_receive_message_length", 64 << 20),
    ]
    with pytest.raises(ValueError):
        channel_options(0)
    with pytest.raises(ValueError):
        channel_options(2**31)
    with pytest.raises(TypeError):
        channel_options(1.5e6)
