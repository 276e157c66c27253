"""matrixslow.dist.ps.parts and the streamed Push / Pull: tensors cut into parts and put back together."""

import grpc
import numpy as np
import pytest

from matrixslow.codec.tensors import ENVELOPE_BYTES, channel_options
from matrixslow.dist.proto import parameter_server_pb2 as pb
from matrixslow.dist.proto import parameter_server_pb2_grpc as pb_grpc
from matrixslow.dist.ps import ParameterServer, ParameterServerClient
from matrixslow.dist.ps.parts import (
    PART_BYTES,
    SMALL_MESSAGE_BYTES,
    PartCollector,
    decode_message,
    encode_message,
    messages,
    part_bytes,
    tensor_parts,
)

from .test_parameter_server import run_workers


def arrays_to_send():
    rng = np.random.default_rng(5)
    return {
        "scalar": np.float64(3.25),
        "empty": np.zeros((0, 3), dtype=np.float32),
        "big_endian": np.arange(10, dtype=">i4").reshape(2, 5),
        "transposed": rng.normal(size=(7, 30)).T,
        "matrix": rng.normal(size=(40, 25)).astype(np.float32),
    }


def as_message(fields):
    """(TensorPart, data) of a part's fields, the way ``decode_message`` hands them out."""
    return pb.TensorPart(**{key: value for key, value in fields.items() if key != "data"}), fields["data"]


def collect(parts, who="test"):
    collector = PartCollector(who)
    for fields in parts:
        collector.add(*as_message(fields))
    return collector.arrays()


@pytest.mark.parametrize("size", [8, 64, 1000, PART_BYTES])
def test_parts_put_back_together_give_the_same_arrays(size):
    arrays = arrays_to_send()
    parts = list(tensor_parts(arrays, size))

    assert all(len(fields["data"]) <= size for fields in parts)
    received = collect(parts)
    assert sorted(received) == sorted(arrays)
    for name, array in arrays.items():
        assert received[name].shape == np.shape(array)
        assert received[name].dtype == np.asarray(array).dtype.newbyteorder("=")
        np.testing.assert_array_equal(received[name], array)


def test_parts_are_cut_on_the_requested_size_and_an_empty_array_still_travels():
    parts = list(tensor_parts({"a": np.zeros(10, dtype=np.float64), "e": np.zeros(0)}, 32))

    assert [(fields["name"], fields["offset"], len(fields["data"])) for fields in parts] == [
        ("a", 0, 32),
        ("a", 32, 32),
        ("a", 64, 16),
        ("e", 0, 0),
    ]


def test_an_unsupported_dtype_is_refused_before_any_part_is_made():
    with pytest.raises(ValueError, match="tensor 'bad': dtype 'object' cannot be sent"):
        tensor_parts({"bad": np.array([None, 1])})


def test_small_parts_share_a_message_and_big_tensors_take_several():
    arrays = {"a": np.zeros(3), "b": np.zeros(2, dtype=np.float32), "big": np.zeros(40), "c": np.zeros(1)}

    batches = [
        [(fields["name"], fields["offset"], len(fields["data"])) for fields in batch] for batch in messages(arrays, 256)
    ]

    # "a" and "b" share a message, envelopes included; "big" (320 bytes) is cut into 256-byte parts;
    # "c" joins its last part.
    assert batches == [
        [("a", 0, 24), ("b", 0, 8)],
        [("big", 0, 256)],
        [("big", 256, 64), ("c", 0, 8)],
    ]


def test_encoded_messages_are_the_bytes_protobuf_writes_and_decode_back():
    arrays = {"a": np.arange(6.0), "empty": np.zeros(0, dtype=np.float32), "b": np.ones((2, 3), dtype=np.float32)}
    (batch,) = messages(arrays, 1 << 20)
    header = pb.PushHeader(worker=1, step=2, sample_count=3)
    encoded = encode_message(pb.PushPart(header=header), "gradients", batch)
    protobuf = pb.PushPart(header=header, gradients=[as_message(fields)[0] for fields in batch])
    for part, fields in zip(protobuf.gradients, batch, strict=True):
        part.data = bytes(fields["data"])
    assert encoded == protobuf.SerializeToString()

    envelope, parts = decode_message(pb.PushPart, "gradients", encoded)
    assert envelope == pb.PushPart(header=header)
    assert [(part.name, part.offset, bytes(data)) for part, data in parts] == [
        (fields["name"], fields["offset"], bytes(fields["data"])) for fields in batch
    ]


def test_a_big_message_decodes_to_views_of_its_data():
    arrays = {"a": np.arange(3 * SMALL_MESSAGE_BYTES // 8, dtype=np.float64), "b": np.ones(7, dtype=np.float32)}
    (batch,) = messages(arrays, 4 * SMALL_MESSAGE_BYTES)
    encoded = encode_message(pb.PushPart(header=pb.PushHeader(worker=1)), "gradients", batch)

    assert len(encoded) > SMALL_MESSAGE_BYTES
    envelope, parts = decode_message(pb.PushPart, "gradients", encoded)
    assert envelope == pb.PushPart(header=pb.PushHeader(worker=1))
    assert [bytes(data) for _, data in parts] == [bytes(fields["data"]) for fields in batch]
    assert all(data.obj is encoded for _, data in parts)  # views into the message, not copies


def test_a_message_that_is_not_protobuf_is_refused_naming_its_type():
    with pytest.raises(ValueError, match="not a PushPart message: "):
        decode_message(pb.PushPart, "gradients", b"\x0a\x02\xff\xff")


def test_thousands_of_tiny_tensors_still_fit_a_small_message_limit():
    limit = ENVELOPE_BYTES + 4000
    arrays = {f"Layer{index}/MatMul:{index}/weights": np.zeros((1, 2)) for index in range(2000)}
    push_header = pb.PushHeader(worker=2**30, step=2**62, sample_count=2**62)

    batches = list(messages(arrays, part_bytes(limit)))

    assert len(batches) > 1
    assert sum(len(batch) for batch in batches) == 2000
    for batch in batches:
        assert len(encode_message(pb.PushPart(header=push_header), "gradients", batch)) <= limit


def test_no_tensors_still_give_a_first_message_for_the_header():
    assert [list(batch) for batch in messages({}, 128)] == [[]]


def first_parts(size=16):
    return [as_message(fields) for fields in tensor_parts({"w": np.arange(8, dtype=np.float64)}, size)]


def test_a_part_out_of_order_is_refused():
    first, second, third, fourth = first_parts()
    collector = PartCollector("worker 3")
    collector.add(*first)
    with pytest.raises(ValueError, match="worker 3: part of tensor 'w' at byte 32 .* does not continue its 16 bytes"):
        collector.add(*third)


def test_a_tensor_missing_its_last_part_is_incomplete():
    collector = PartCollector("worker 1")
    for part in first_parts()[:-1]:
        collector.add(*part)
    with pytest.raises(ValueError, match="worker 1: tensor 'w' is incomplete: 48 of 64 bytes arrived"):
        collector.arrays()


def test_parts_that_disagree_on_the_shape_are_refused():
    first, second, *_ = first_parts()
    second[0].shape[:] = [2, 4]
    collector = PartCollector("worker 0")
    collector.add(*first)
    with pytest.raises(ValueError, match=r"parts of tensor 'w' disagree: \(8,\) float64 then \(2, 4\) float64"):
        collector.add(*second)


def test_a_part_of_an_unknown_dtype_is_refused():
    part, data = first_parts()[0]
    part.dtype = ">f8"
    with pytest.raises(ValueError, match="tensor 'w' has unknown dtype '>f8'"):
        PartCollector("worker 0").add(part, data)


@pytest.mark.parametrize("limit", [ENVELOPE_BYTES + 100, 64 << 10, 4 << 20, 256 << 20])
def test_a_full_part_fits_the_message_limit(limit):
    size = part_bytes(limit)
    assert size <= PART_BYTES
    fields = next(tensor_parts({"Hidden/W": np.zeros(size // 4 + 10, dtype=np.float32)}, size))
    assert len(fields["data"]) == size // 4 * 4
    # The first message of a stream carries its header too.
    push_header = pb.PushHeader(worker=2**30, step=2**62, sample_count=2**62)
    assert len(encode_message(pb.PushPart(header=push_header), "gradients", [fields])) <= limit
    pull_header = pb.PullHeader(step=2**62, sample_count=2**62, ready=True, missing_workers=[])
    assert len(encode_message(pb.PullPart(header=pull_header), "tensors", [fields])) <= limit


def test_many_parts_and_three_concurrent_workers_give_the_exact_mean():
    # 64 KiB messages: every variable travels as many parts, pushed by three workers at once.
    limit = 64 << 10
    rng = np.random.default_rng(9)
    variables = {"A": np.zeros((300, 200)), "B": np.zeros(50_000, dtype=np.float32), "c": np.zeros(3)}
    gradients = [
        {name: rng.integers(-1000, 1000, size=value.shape).astype(value.dtype) for name, value in variables.items()}
        for _ in range(3)
    ]
    counts = [5, 1, 11]
    with ParameterServer(3, max_message_bytes=limit) as server:
        clients = [ParameterServerClient([server.address], worker, max_message_bytes=limit) for worker in range(3)]
        try:
            clients[0].init(variables)

            def work(worker):
                clients[worker].init(variables)
                clients[worker].push(0, gradients[worker], counts[worker])
                return clients[worker].pull(0)

            pulled = run_workers(3, work)
        finally:
            for client in clients:
                client.close()

    for name, value in variables.items():
        total = sum(g[name].astype(np.float64) for g in gradients)
        expected = (total / sum(counts)).astype(value.dtype)
        for means, count in pulled:
            assert count == 17
            assert means[name].dtype == value.dtype
            np.testing.assert_array_equal(means[name], expected)


def raw_push(address, messages):
    """Send ``messages`` as a Push stream with the generated stub, bypassing the client's checks."""
    with grpc.insecure_channel(address, options=channel_options(1 << 20)) as channel:
        return pb_grpc.ParameterServiceStub(channel).Push(iter(messages), timeout=10)


def init_one_variable(address):
    with ParameterServerClient([address], 0) as client:
        client.init({"w": np.zeros(8)})


def header(step=0):
    return pb.PushHeader(worker=0, step=step, sample_count=1)


def gradient_parts(arrays, size=16):
    return [pb.TensorPart(**{**fields, "data": bytes(fields["data"])}) for fields in tensor_parts(arrays, size)]


W = {"w": np.arange(8, dtype=np.float64)}


@pytest.mark.parametrize(
    ("messages_to_send", "message"),
    [
        (lambda: [pb.PushPart(gradients=gradient_parts(W))], "a Push stream must start with its header"),
        (
            lambda: [pb.PushPart(header=header()), pb.PushPart(header=header(), gradients=gradient_parts(W))],
            "worker 0: a Push stream has one header, in its first message",
        ),
        (
            lambda: [pb.PushPart(header=header(), gradients=gradient_parts(W)[:3])],
            "worker 0: tensor 'w' is incomplete: 48 of 64 bytes arrived",
        ),
        (
            lambda: [pb.PushPart(header=header(), gradients=gradient_parts({"w": np.zeros(4)}))],
            "variable 'w': worker 0 sends (4,) float64 in its gradients, but the server holds (8,) float64",
        ),
        (lambda: [pb.PushPart(header=header())], "missing ['w'], unexpected []"),
    ],
    ids=["no header", "two headers", "incomplete", "wrong shape", "no gradient"],
)
def test_a_malformed_push_stream_gives_invalid_argument(messages_to_send, message):
    with ParameterServer(1) as server:
        init_one_variable(server.address)
        with pytest.raises(grpc.RpcError) as caught:
            raw_push(server.address, messages_to_send())

    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert message in caught.value.details()


def test_a_well_formed_raw_push_stream_is_accepted():
    # The same stream shape as the failing cases above, built right: the header and parts do pass.
    with ParameterServer(1) as server:
        init_one_variable(server.address)
        parts = gradient_parts(W)
        reply = raw_push(
            server.address, [pb.PushPart(header=header(), gradients=parts[:2]), pb.PushPart(gradients=parts[2:])]
        )
        means, _ = server.state.pull_mean(0, 0, [], timeout=1)[1:3]

    assert reply.accepted
    np.testing.assert_array_equal(means["w"], np.arange(8.0))
