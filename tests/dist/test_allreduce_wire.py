"""wire: a Chunk built and read by hand is the same bytes protobuf writes, and its data is never copied on reading."""

import numpy as np
import pytest

from matrixslow.dist.allreduce.wire import decode_chunk, encode_chunk
from matrixslow.dist.proto import allreduce_pb2


def header(**fields):
    values = dict(step=7, phase=allreduce_pb2.ALL_GATHER, sender=2, sequence=1, segment=3, part=4, part_count=9)
    values.update(offset=2**40, dtype="float32", sample_count=123)
    values.update(fields)
    return allreduce_pb2.Chunk(**values)


@pytest.mark.parametrize("size", [0, 1, 17, 300_000])
def test_encoding_is_the_bytes_protobuf_writes_for_the_same_chunk(size):
    data = np.random.default_rng(size).random(size, dtype=np.float32)
    expected = header(data=data.tobytes()).SerializeToString()
    assert encode_chunk(header(), data) == expected


@pytest.mark.parametrize("size", [0, 1, 17, 300_000])
def test_decoding_gives_the_header_and_a_view_of_the_data_in_the_message(size):
    data = np.random.default_rng(size).random(size, dtype=np.float32)
    message = header(data=data.tobytes()).SerializeToString()
    decoded_header, view = decode_chunk(message)
    assert decoded_header == header()  # every field, and no data in the header
    assert np.array_equal(np.frombuffer(view, dtype=np.float32), data)
    if size:
        assert view.obj is message  # a view into the received bytes, not a copy


def test_data_anywhere_in_the_message_is_found():
    # Protobuf puts field 12 last, but a parser must accept fields in any order.
    data = b"\x01\x02\x03"
    message = allreduce_pb2.Chunk(data=data).SerializeToString() + header().SerializeToString()
    decoded_header, view = decode_chunk(message)
    assert bytes(view) == data
    assert decoded_header == header()


@pytest.mark.parametrize(
    ("message", "problem"),
    [
        (b"\x08", r"varint is cut off .* at byte 1"),
        (b"\x62\x05ab", r"the field at byte 0 runs past the end \(4 bytes\)"),
        (b"\x0b", "unsupported wire type 3 at byte 0"),
        (b"\x5a\x01\xff", "not a Chunk message: "),  # dtype (field 11) that is not UTF-8
    ],
    ids=["cut-varint", "short-data", "group", "bad-utf8"],
)
def test_malformed_messages_are_refused_naming_the_problem(message, problem):
    with pytest.raises(ValueError, match=problem):
        decode_chunk(message)
