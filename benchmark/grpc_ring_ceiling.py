"""The gRPC ring's ceiling: the bytes of a ring allreduce moved round the ring, with nothing added and nothing awaited.

Each worker streams 2 (N - 1) / N of the buffer to its right neighbour, in parts of the ring's
size copied out of the NumPy buffer (the one copy every ring part costs), on one long-lived
stream fed through a queue as long as the ring's, while its left neighbour streams the same to
it. A repetition is done when the left neighbour's bytes have all arrived. Unlike the ring, no part is added, and
no part waits for another to arrive first. A ring allreduce over Python gRPC moves exactly these
bytes, so on the same machine its bus bandwidth cannot beat this one; the benchmark prints it
beside the ring and MPI, as the serving benchmark prints its no-op server.

``RingTransferCeiling`` has the part of ``RingAllReduce``'s interface the allreduce benchmark
uses (``rank``, ``world_size``, ``allreduce``, ``bytes_sent``, ``close``); its "sum" is the buffer.
"""

import contextlib
import queue
import threading
from concurrent import futures

import grpc
import numpy as np

from matrixslow.codec.tensors import bind, channel_options, server_options
from matrixslow.dist.allreduce.worker import PART_BYTES, SEND_QUEUE_PARTS

SERVICE = "matrixslow.benchmark.RingTransfer"
MESSAGE_LIMIT = 2 * PART_BYTES
DEADLINE_SECONDS = 60
STREAM_SECONDS = 3600


class RingTransferCeiling:
    def __init__(self, rank, addresses):
        self.rank, self.world_size = rank, len(addresses)
        self.bytes_sent = 0
        self._received = 0
        self._arrived = threading.Condition()
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=2), options=server_options(MESSAGE_LIMIT))
        handler = grpc.stream_unary_rpc_method_handler(self._receive)  # raw bytes in and out
        self._server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, {"Stream": handler}),))
        bind(self._server, addresses[rank], f"ring transfer worker {rank}")
        self._server.start()
        right = addresses[(rank + 1) % self.world_size]
        self._channel = grpc.insecure_channel(right, options=channel_options(MESSAGE_LIMIT))
        self._stream = self._channel.stream_unary(f"/{SERVICE}/Stream")
        self._outgoing = queue.Queue(maxsize=SEND_QUEUE_PARTS)  # None ends the stream
        self._call = None  # opened at the first allreduce, the right neighbour may still be starting

    def _receive(self, messages, context):
        for message in messages:
            with self._arrived:
                self._received += len(message)
                self._arrived.notify_all()
        return b""

    def allreduce(self, buffer, sample_count, out=None):
        flat = np.ascontiguousarray(buffer).reshape(-1).view(np.uint8)
        total = round(2 * (self.world_size - 1) / self.world_size * flat.size)

        def parts():  # 2 (N - 1) / N of the buffer: from its start, and round again where that is more than it
            sent = 0
            while sent < total:
                first = sent % flat.size
                part = flat[first : first + min(PART_BYTES, total - sent, flat.size - first)].tobytes()
                sent += len(part)
                yield part

        if self._call is None:
            messages = iter(self._outgoing.get, None)
            self._call = self._stream.future(messages, timeout=STREAM_SECONDS, wait_for_ready=True)
        for part in parts():
            self._outgoing.put(part, timeout=DEADLINE_SECONDS)
        with self._arrived:  # the left neighbour sends the same number of bytes
            if not self._arrived.wait_for(lambda: self._received >= total, timeout=DEADLINE_SECONDS):
                raise TimeoutError(f"ring transfer worker {self.rank}: the left neighbour's bytes did not all arrive")
            self._received -= total
        self.bytes_sent = total
        return (buffer if out is None else out), sample_count

    def close(self):
        if self._call is not None:
            self._outgoing.put(None, timeout=DEADLINE_SECONDS)
            with contextlib.suppress(grpc.RpcError):  # the right neighbour may have stopped serving first
                self._call.result(timeout=DEADLINE_SECONDS)
        self._channel.close()
        self._server.stop(grace=1.0).wait(timeout=DEADLINE_SECONDS)
