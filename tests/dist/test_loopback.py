"""Real gRPC round trips on 127.0.0.1: the generated services and a 64 MB tensor under raised limits.

Every wait has a timeout and every server is stopped in a finally block, so a broken
transport fails the test in seconds instead of hanging the run.
"""

import contextlib
from concurrent import futures

import grpc
import numpy as np
import pytest

from matrixslow.codec.proto.tensor_pb2 import Tensor
from matrixslow.codec.tensors import channel_options, from_proto, max_chunk_bytes, to_proto
from matrixslow.dist.proto import allreduce_pb2, allreduce_pb2_grpc

DEADLINE_SECONDS = 30
BIG_TENSOR_BYTES = 64 << 20
# Room for the 64 MB of data plus the message framing.
BIG_LIMIT = BIG_TENSOR_BYTES + (1 << 20)

# A test-only unary method: send a Tensor, get the same Tensor back.
ECHO_METHOD = "/matrixslow.dist.test.Echo/Echo"


def _echo_handler():
    handler = grpc.unary_unary_rpc_method_handler(
        lambda request, context: request,
        request_deserializer=Tensor.FromString,
        response_serializer=Tensor.SerializeToString,
    )
    return grpc.method_handlers_generic_handler("matrixslow.dist.test.Echo", {"Echo": handler})


class RecordingWorker(allreduce_pb2_grpc.RingAllReduceServicer):
    """Answers Hello as rank 1 of 2 and keeps every chunk it is sent."""

    def __init__(self):
        self.chunks = []

    def Hello(self, request, context):
        return allreduce_pb2.HelloReply(rank=1, world_size=request.world_size, ready=True)

    def Stream(self, request_iterator, context):
        self.chunks.extend(request_iterator)
        return allreduce_pb2.ChunkAck(accepted=True)


@contextlib.contextmanager
def _serving(options, worker=None):
    """A server on a free port of 127.0.0.1; yields its address."""
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2), options=options)
    server.add_generic_rpc_handlers((_echo_handler(),))
    if worker is not None:
        allreduce_pb2_grpc.add_RingAllReduceServicer_to_server(worker, server)
    port = server.add_insecure_port("127.0.0.1:0")
    assert port > 0
    server.start()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.stop(grace=None).wait(timeout=5)


@contextlib.contextmanager
def _channel(address, options):
    channel = grpc.insecure_channel(address, options=options)
    try:
        grpc.channel_ready_future(channel).result(timeout=DEADLINE_SECONDS)
        yield channel
    finally:
        channel.close()


def _echo(channel):
    return channel.unary_unary(
        ECHO_METHOD,
        request_serializer=Tensor.SerializeToString,
        response_deserializer=Tensor.FromString,
    )


def test_a_64_mb_tensor_goes_there_and_back_intact():
    options = channel_options(BIG_LIMIT)
    array = np.random.default_rng(0).normal(size=BIG_TENSOR_BYTES // 4).astype(np.float32).reshape(4096, -1)
    with _serving(options) as address, _channel(address, options) as channel:
        reply = _echo(channel)(to_proto(array, name="big"), timeout=DEADLINE_SECONDS)
    received = from_proto(reply, name="big")
    assert received.nbytes == BIG_TENSOR_BYTES
    assert received.shape == array.shape
    assert np.array_equal(received, array)


def test_default_limits_refuse_the_same_tensor():
    # Why channel_options exists: gRPC receives at most 4 MB unless told otherwise.
    array = np.zeros(5 << 20, dtype=np.uint8)
    with (
        _serving(options=[]) as address,
        _channel(address, options=[]) as channel,
        pytest.raises(grpc.RpcError) as refused,
    ):
        _echo(channel)(to_proto(array), timeout=DEADLINE_SECONDS)
    assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED


def test_hello_and_a_chunked_stream_through_the_generated_stub():
    limit = 1 << 16
    options = channel_options(limit)
    worker = RecordingWorker()
    gradient = np.arange(100_003, dtype=np.float64) / 7
    per_part = max_chunk_bytes(limit) // gradient.itemsize
    parts = [gradient[first : first + per_part] for first in range(0, gradient.size, per_part)]
    assert len(parts) > 1
    with _serving(options, worker) as address, _channel(address, options) as channel:
        stub = allreduce_pb2_grpc.RingAllReduceStub(channel)
        hello = stub.Hello(allreduce_pb2.HelloRequest(sender=0, world_size=2), timeout=DEADLINE_SECONDS)
        assert (hello.rank, hello.world_size, hello.ready) == (1, 2, True)
        chunks = (
            allreduce_pb2.Chunk(
                step=3,
                phase=allreduce_pb2.SCATTER_REDUCE,
                sender=0,
                sequence=0,
                segment=0,
                part=index,
                part_count=len(parts),
                offset=index * per_part,
                dtype="float64",
                data=part.astype("<f8").tobytes(),
            )
            for index, part in enumerate(parts)
        )
        assert stub.Stream(chunks, timeout=DEADLINE_SECONDS).accepted

    assert [chunk.part for chunk in worker.chunks] == list(range(len(parts)))
    assert {(c.step, c.phase, c.sender, c.part_count) for c in worker.chunks} == {
        (3, allreduce_pb2.SCATTER_REDUCE, 0, len(parts))
    }
    assert [chunk.offset for chunk in worker.chunks] == [index * per_part for index in range(len(parts))]
    received = np.frombuffer(b"".join(chunk.data for chunk in worker.chunks), dtype="<f8")
    assert received.tobytes() == gradient.tobytes()
