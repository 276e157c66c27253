"""dist.wire: big bytes fields spliced into protobuf messages by hand, and taken out again as views."""

import pytest

from matrixslow.codec import wire
from matrixslow.dist.proto import parameter_server_pb2 as pb


def test_nested_messages_with_spliced_data_are_what_protobuf_writes():
    header = pb.PushHeader(worker=3, step=2**40, sample_count=7)
    parts = [pb.TensorPart(name="w", dtype="float32", shape=[2, 2], offset=16), pb.TensorPart(name="b", dtype="int8")]
    datas = [b"\x01" * 300, b""]  # 300 bytes need a two-byte length; empty data is left out
    pieces = [pb.PushPart(header=header).SerializeToString()]
    for part, data in zip(parts, datas, strict=True):
        pieces += wire.message_field(2, [part.SerializeToString(), *wire.bytes_field(5, data)])
    expected = pb.PushPart(header=header)
    for part, data in zip(parts, datas, strict=True):
        expected.gradients.add().CopyFrom(part)
        expected.gradients[-1].data = data
    assert wire.join(pieces) == expected.SerializeToString()


def test_take_fields_splits_out_every_occurrence_and_leaves_the_rest_for_protobuf():
    message = pb.PushPart(
        header=pb.PushHeader(worker=1), gradients=[pb.TensorPart(name="a"), pb.TensorPart(name="b")]
    ).SerializeToString()
    rest, values = wire.take_fields(message, 2)
    assert pb.PushPart.FromString(rest) == pb.PushPart(header=pb.PushHeader(worker=1))
    assert [pb.TensorPart.FromString(bytes(value)).name for value in values] == ["a", "b"]
    assert all(value.obj is message for value in values)


def test_no_such_field_gives_the_whole_message_back():
    message = pb.PushHeader(worker=5, step=6).SerializeToString()
    assert wire.take_fields(message, 9) == (message, [])


@pytest.mark.parametrize("message", [b"\x08\x80", b"\x0d\x00\x00", b"\x0a\x05abc"], ids=["varint", "fixed32", "bytes"])
def test_a_message_cut_short_is_refused(message):
    with pytest.raises(ValueError, match="not a protobuf message"):
        wire.take_fields(message, 1)
