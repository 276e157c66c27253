"""One worker of a ring allreduce over gRPC.

The buffer is cut into ``world_size`` segments (``np.array_split``). In ``world_size - 1``
reduce-scatter steps each worker sends one segment to its right neighbour and adds the one
arriving from its left, so that afterwards worker ``r`` holds the full sum of segment
``r + 1``. In ``world_size - 1`` all-gather steps those finished segments travel round the
ring. Every worker sends ``2 (N - 1) / N`` of the buffer whatever ``N`` is, which is why the
ring scales where a central server does not.

The steps are pipelined: each segment travels as parts of at most ``PART_BYTES`` (see
``parts.segment_parts``), all of them on one long-lived gRPC stream to the right neighbour
(``ChunkStream``, up to ``SEND_QUEUE_PARTS`` queued ahead of the wire), and a worker adds or copies
each part the moment it arrives and passes it on at once, instead of waiting for whole segments.
So sending, receiving and adding overlap, on every worker at once.
"""

import contextlib
import time
from concurrent import futures

import grpc
import numpy as np

from ...codec.tensors import SUPPORTED_DTYPES, bind, channel_options, max_chunk_bytes, server_options
from ..proto import allreduce_pb2, allreduce_pb2_grpc
from ..tls import PeerTLSError, handshake_problem, open_channel
from .inbox import SERVICE_NAME, ChunkInbox, RingAbortedError, RingAllReduceServicer, RingTimeoutError
from .output import checked_out
from .parts import segment_parts
from .send_stream import ChunkStream
from .wire import encode_chunk

DEFAULT_DEADLINE_SECONDS = 10.0
# gRPC's own default receive limit; larger segments go in several parts.
DEFAULT_MAX_MESSAGE_BYTES = 4 << 20
# Parts of at most this many bytes: small enough that a neighbour can forward the first part while
# the rest of the segment is still arriving, large enough that gRPC's per-message cost stays small.
PART_BYTES = 2 << 20
# Parts queued for the stream to the right neighbour at once (see ChunkStream).
SEND_QUEUE_PARTS = 4
# Deadline of each stream to the right neighbour; a worker opens a new one once its stream is half as old.
STREAM_SECONDS = 3600.0
# How long a closing worker's server lets calls in flight finish (see close()).
STOP_GRACE_SECONDS = 0.25
# How long telling a neighbour that the ring failed may take; it may be gone already.
ABORT_SECONDS = 1.0
# How long one Hello attempt may wait before the handshake tries again.
HELLO_RETRY_SECONDS = 0.25
# gRPC waits a second before its first reconnect by default; a ring starting up wants to see a late neighbour sooner.
RECONNECT_OPTIONS = [("grpc.initial_reconnect_backoff_ms", 100), ("grpc.max_reconnect_backoff_ms", 1000)]

SCATTER_REDUCE = allreduce_pb2.SCATTER_REDUCE
ALL_GATHER = allreduce_pb2.ALL_GATHER


class RingAllReduce:
    """A ring member: a server for the left neighbour's chunks, a client to the right neighbour.

    Parameters
    ----------
    rank : int
        Position in the ring, ``0 .. world_size - 1``.
    world_size : int
        Number of workers.
    listen : str
        Address to serve on; port 0 picks a free port (read it back from ``address``).
    deadline : float
        Seconds every RPC, the handshake and every wait for a chunk may take.
    max_message_bytes : int
        gRPC message limit of both the server and the client channel.
    tls : matrixslow.dist.tls.PeerTLS, optional
        Serve and call over TLS only, with peers the job's CA signed; None: plaintext.

    Attributes
    ----------
    part_bytes : int
        Most payload bytes in one ``Chunk`` (``PART_BYTES``, less if ``max_message_bytes`` is smaller).
    queue_parts : int
        Most parts queued for the stream to the right neighbour (``SEND_QUEUE_PARTS``).
    bytes_sent : int
        Payload bytes this worker sent in the last ``allreduce`` (the stream that carries them is
        acknowledged as a whole when it ends: at ``say_goodbye`` or ``close``).
    stream_seconds : float
        Deadline of each stream to the right neighbour (``STREAM_SECONDS``); a new one replaces
        it at the first allreduce after half of that.

    Examples
    --------
    >>> worker = RingAllReduce(rank, world_size)          # doctest: +SKIP
    >>> worker.connect(all_addresses)                     # doctest: +SKIP
    >>> total, samples = worker.allreduce(grads, batch)   # doctest: +SKIP
    >>> worker.close()                                    # doctest: +SKIP
    """

    def __init__(
        self,
        rank,
        world_size,
        listen="127.0.0.1:0",
        deadline=DEFAULT_DEADLINE_SECONDS,
        max_message_bytes=DEFAULT_MAX_MESSAGE_BYTES,
        tls=None,
    ):
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} is outside the ring of world_size {world_size}")
        self.rank = rank
        self.world_size = world_size
        self.deadline = float(deadline)
        self.max_message_bytes = max_message_bytes
        self.tls = tls
        self.bytes_sent = 0  # payload bytes of the last allreduce
        self._step = 0
        self._addresses = None
        self._channel = None
        self._right = None
        self._inbox = ChunkInbox()
        self._failed = False  # an exchange raised: close() must not wait for a goodbye
        self._outgoing = None  # the ChunkStream to the right neighbour, kept from one allreduce to the next
        self._retired = None  # an ended ChunkStream, until its acknowledgement is seen
        self.stream_seconds = STREAM_SECONDS
        self._said_goodbye = False
        options = server_options(max_message_bytes)  # checks max_message_bytes first
        # Each part must fit one message with its header (max_chunk_bytes checks the limit leaves room).
        self.part_bytes = min(PART_BYTES, max_chunk_bytes(max_message_bytes))
        self.queue_parts = SEND_QUEUE_PARTS
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=4), options=options)
        self._servicer = RingAllReduceServicer(rank, world_size, self._inbox)
        self._servicer.add_to_server(self._server)
        host = listen.rsplit(":", 1)[0]
        port = bind(self._server, listen, f"ring worker {rank}", None if tls is None else tls.server_credentials())
        self.address = f"{host}:{port}"
        self._server.start()

    @property
    def left_address(self):
        return self._addresses[(self.rank - 1) % self.world_size]

    @property
    def right_address(self):
        return self._addresses[(self.rank + 1) % self.world_size]

    def connect(self, addresses):
        """Open the channel to the right neighbour and wait until it answers ``Hello``.

        Parameters
        ----------
        addresses : sequence of str
            The address of every worker, indexed by rank (this worker's own included).

        Raises
        ------
        RingTimeoutError
            If the right neighbour does not answer within ``deadline`` seconds; names its address.
        ValueError
            If the neighbour reports another rank or ring size.
        """
        addresses = list(addresses)
        if len(addresses) != self.world_size:
            raise ValueError(f"expected {self.world_size} addresses (one per rank), got {len(addresses)}: {addresses}")
        self._addresses = addresses
        if self.world_size == 1:
            return
        options = channel_options(self.max_message_bytes) + RECONNECT_OPTIONS
        self._channel = open_channel(self.right_address, options, self.tls)
        self._right = allreduce_pb2_grpc.RingAllReduceStub(self._channel)
        # Stream messages serialized by wire.encode_chunk, not by the stub's protobuf serializer.
        self._stream = self._channel.stream_unary(
            f"/{SERVICE_NAME}/Stream", response_deserializer=allreduce_pb2.ChunkAck.FromString
        )
        self._hello()

    def _hello(self):
        expected_rank = (self.rank + 1) % self.world_size
        label = f"right neighbour rank {expected_rank} at {self.right_address}"
        give_up_at = time.monotonic() + self.deadline
        request = allreduce_pb2.HelloRequest(sender=self.rank, world_size=self.world_size)
        while True:
            remaining = give_up_at - time.monotonic()
            if remaining <= 0:
                raise RingTimeoutError(f"{label} never answered Hello within {self.deadline:g} s; is it running?")
            try:
                # wait_for_ready lets gRPC reconnect while the neighbour is still starting up.
                reply = self._right.Hello(request, timeout=min(remaining, HELLO_RETRY_SECONDS), wait_for_ready=True)
            except grpc.RpcError as error:
                if error.code() not in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
                    raise
                # A neighbour that listens yet never answers may refuse this process's TLS (or its lack):
                # gRPC would keep trying until the deadline without saying so.
                problem = handshake_problem(self.right_address, self.tls)
                if problem is not None:
                    raise PeerTLSError(f"ring worker {self.rank}: {label}: {problem}") from None
                continue
            if (reply.rank, reply.world_size) != (expected_rank, self.world_size):
                raise ValueError(
                    f"{label} answered as rank {reply.rank} of {reply.world_size}; "
                    f"expected rank {expected_rank} of {self.world_size}"
                )
            if reply.ready:
                return
            time.sleep(min(HELLO_RETRY_SECONDS, max(give_up_at - time.monotonic(), 0)))

    def allreduce(self, buffer, sample_count, out=None):
        """Sum ``buffer`` and ``sample_count`` over every worker of the ring.

        Every worker must call this the same number of times with buffers of the same size and dtype.

        Parameters
        ----------
        buffer : array_like
            This worker's gradient sum, any shape (see ``flatten_arrays`` for a dict of gradients).
        sample_count : int
            How many samples were summed into ``buffer``; with unequal shards the exact mean is
            ``sum / total_count``.
        out : numpy.ndarray, optional
            Where to write the sum (``buffer`` itself is fine); see ``output.checked_out`` for why
            reusing one array from step to step pays.

        Returns
        -------
        sum : numpy.ndarray
            ``out``, or else a new array of ``buffer``'s shape and dtype (``buffer`` itself for
            ``world_size == 1``).
        total_count : int
        """
        buffer = np.asarray(buffer)
        out = checked_out(out, buffer, f"ring worker {self.rank}")
        self.bytes_sent = 0
        if self.world_size == 1:
            if out is not None:
                np.copyto(out, buffer)
            return (buffer if out is None else out), int(sample_count)
        if self._right is None:
            raise RuntimeError(f"ring worker {self.rank}: call connect(addresses) before allreduce")
        step = self._step
        self._step += 1
        try:
            return self._ring_exchange(step, buffer, sample_count, out)
        except BaseException as error:
            self._failed = True
            self._abort_neighbours(error)
            raise

    def _abort_neighbours(self, error):
        """Tell both neighbours why this worker gives up, so that they stop at once and name the first failure."""
        reason = str(error) if not isinstance(error, RingAbortedError) else self._inbox.abort_reason
        request = allreduce_pb2.AbortRequest(sender=self.rank, reason=reason)
        for address in {self.left_address, self.right_address}:
            with contextlib.suppress(grpc.RpcError), open_channel(address, None, self.tls) as channel:
                allreduce_pb2_grpc.RingAllReduceStub(channel).Abort(request, timeout=ABORT_SECONDS)

    def _ring_exchange(self, step, buffer, sample_count, out):
        """Reduce-scatter then all-gather, pipelined part by part; the body of ``allreduce``."""
        local = np.ascontiguousarray(buffer).reshape(-1)
        wire_dtype = _wire_dtype(local.dtype)
        per_part = self.part_bytes // wire_dtype.itemsize
        if per_part == 0:
            raise ValueError(f"max_message_bytes={self.max_message_bytes} cannot hold one {wire_dtype.name} element")
        # Every element of the result is written by an add or a copy below, so the input needs no copy.
        # out may be the input itself: each segment is read (sent, or added to) before it is overwritten.
        result = np.empty_like(local) if out is None else out.reshape(-1)
        # array_split's segment sizes, the same on every worker: part k of segment j is the same slice everywhere.
        bounds = np.cumsum([0] + [piece.size for piece in np.array_split(local, self.world_size)])
        size, rank = self.world_size, self.rank
        counts = [int(sample_count)] * size
        # The 2 (N - 1) ring steps in order; the segment that arrives at one step goes out at the next.
        ring_steps = [(SCATTER_REDUCE, sequence) for sequence in range(size - 1)]
        ring_steps += [(ALL_GATHER, sequence) for sequence in range(size - 1)]
        stream = self._stream_to_right()

        def send(ring_step, segment, part, source):
            phase, sequence = ring_steps[ring_step]
            header = allreduce_pb2.Chunk(
                step=step,
                phase=phase,
                sender=rank,
                sequence=sequence,
                segment=segment,
                part=part.index,
                part_count=part.count,
                offset=part.offset,
                dtype=wire_dtype.name,
                sample_count=counts[segment],
            )
            # The raw little-endian elements go into the message with one copy (wire.encode_chunk).
            data = source[part.elements].astype(wire_dtype, copy=False)
            # The last part of the last ring step this worker sends in: after it, a stream that ends quietly
            # (the right neighbour done and gone) is no failure of this allreduce (see ChunkStream).
            last = ring_step == len(ring_steps) - 1 and part.index == part.count - 1
            stream.send(encode_chunk(header, data), last=last)
            nonlocal sent_bytes
            sent_bytes += data.nbytes

        sent_bytes = 0
        try:
            for part in segment_parts(bounds, rank, per_part):  # the first step sends this worker's own segment
                send(0, rank, part, local)
            for ring_step, (phase, sequence) in enumerate(ring_steps):
                segment = (rank - ring_step - 1) % size
                for part in segment_parts(bounds, segment, per_part):
                    received, count = self._receive(step, phase, sequence, segment, part, wire_dtype)
                    # Each part is combined as soon as it arrives, straight into its place in the result...
                    if phase == SCATTER_REDUCE:
                        np.add(local[part.elements], received, out=result[part.elements])
                        counts[segment] = int(sample_count) + count
                    else:
                        result[part.elements] = received
                        counts[segment] = count
                    # ...and forwarded at once, so the next worker adds it while the rest of the segment arrives here.
                    if ring_step + 1 < len(ring_steps):
                        send(ring_step + 1, segment, part, result)
        except BaseException:
            stream.cancel()
            raise
        # The last parts may still be queued: the stream stays open for the next allreduce, and
        # whatever is left goes out while this worker computes its next gradients.
        self.bytes_sent = sent_bytes

        return (result.reshape(buffer.shape) if out is None else out), counts[0]

    def _stream_to_right(self):
        """The stream for this allreduce's parts: the open one, or a new one once it is half its deadline old."""
        self._wait_for_retired_stream()
        stream = self._outgoing
        if stream is not None and (stream.done() or stream.age > self.stream_seconds / 2):
            if not stream.done():  # its queued parts still go out; its acknowledgement is checked next time
                stream.end()
                self._retired = stream
            stream = None  # one that is done ended with nothing queued: a new one will say if the neighbour is gone
        if stream is None:
            stream = self._outgoing = ChunkStream(
                self._stream, self.queue_parts, self.deadline, self.stream_seconds, self._send_failed, self._wake_up
            )
        return stream

    def _wait_for_retired_stream(self):
        """Raise if the right neighbour did not acknowledge the parts of an ended stream within the deadline."""
        stream, self._retired = self._retired, None
        if stream is not None:
            stream.wait_for_acknowledgement()

    def _wake_up(self, send_error):
        """The stream failed (called from a gRPC thread): stop waiting for the left neighbour, name the right one."""
        self._inbox.abort(str(send_error))

    def _send_failed(self, problem):
        """The exception for a failed stream: the ring's abort if there was one, else a RingTimeoutError."""
        if self._inbox.abort_reason is not None:  # the right neighbour may have gone because the ring failed first
            return RingAbortedError(f"the ring was aborted: {self._inbox.abort_reason}")
        right_rank = (self.rank + 1) % self.world_size
        return RingTimeoutError(
            f"ring worker {self.rank} could not send to right neighbour rank {right_rank} at "
            f"{self.right_address}: {problem}"
        )

    def _receive(self, step, phase, sequence, segment, part, wire_dtype):
        """Wait for one part from the left neighbour; returns its elements (read-only) and its sample count."""
        left_rank = (self.rank - 1) % self.world_size
        label = f"left neighbour rank {left_rank} at {self.left_address}"
        header, data = self._inbox.take(step, phase, sequence, part.index, self.deadline, label)
        if header.segment != segment:
            raise ValueError(f"{label} sent segment {header.segment} at ring step {sequence}; expected {segment}")
        got = (header.part_count, header.offset, header.dtype, data.nbytes)
        expected = (part.count, part.offset, wire_dtype.name, part.size * wire_dtype.itemsize)
        if got != expected:
            raise ValueError(
                f"{label} sent part {part.index} of segment {segment} as (part count, offset, dtype, bytes) {got}; "
                f"expected {expected} (do all workers flatten the same layout?)"
            )
        return np.frombuffer(data, dtype=wire_dtype), header.sample_count

    def close(self, wait_for_left=False):
        """Stop the server and close the channel; safe to call twice.

        A worker that finished its last allreduce has received every chunk, but its own last
        parts may still be queued for its right neighbour: they are delivered, and the stream
        acknowledged, before the channel closes. Its left neighbour's stream into it may still be
        open; that neighbour has sent everything this worker needs, so the server stops after a
        short grace (``STOP_GRACE_SECONDS``) for calls in flight. With ``wait_for_left`` (what a
        worker process about to exit wants) each worker first tells its right neighbour it is
        done and waits, up to the deadline, for the left neighbour to say the same. Nobody waits
        after a failed exchange, and ``wait_for_left`` needs every worker to close at about the
        same time (not one after another in a single thread).
        """
        if self._channel is not None:
            if wait_for_left and not self._failed:
                self.say_goodbye()
                self._servicer.left_said_goodbye.wait(self.deadline)
            self._deliver_or_drop_last_parts()
            self._channel.close()
            self._channel = None
            self._right = None
        self._server.stop(grace=min(self.deadline, STOP_GRACE_SECONDS)).wait(timeout=self.deadline)

    def _deliver_or_drop_last_parts(self):
        """End the stream to the right neighbour: its last parts may still be queued for the wire.

        Closing the channel would cut them off while the right neighbour still waits for them, so
        they are delivered and acknowledged first (up to the deadline); after a failure nobody needs them.
        """
        stream, self._outgoing = self._outgoing, None
        if self._failed:
            for ended in (stream, self._retired):
                if ended is not None:
                    ended.cancel()
            self._retired = None
            return
        # A neighbour that is gone already needed nothing more from us (and says so itself if it missed a part).
        with contextlib.suppress(RingTimeoutError):
            self._wait_for_retired_stream()  # one ended when its successor was opened
            if stream is not None and not stream.done():
                stream.end()
                stream.wait_for_acknowledgement()

    def say_goodbye(self):
        """Tell the right neighbour this worker will send nothing more (once; ``close`` may do it)."""
        if self._said_goodbye or self._right is None:
            return
        self._said_goodbye = True
        self._deliver_or_drop_last_parts()
        with contextlib.suppress(grpc.RpcError):  # a neighbour that is gone needs no goodbye
            farewell = allreduce_pb2.HelloRequest(sender=self.rank, world_size=self.world_size)
            self._right.Goodbye(farewell, timeout=self.deadline)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()


def _wire_dtype(dtype):
    """The little-endian version of ``dtype``, which parts carry on the wire; refuses what cannot be summed."""
    if dtype.name not in SUPPORTED_DTYPES:
        raise ValueError(f"cannot allreduce dtype {dtype.name!r}; expected one of {sorted(SUPPORTED_DTYPES)}")
    return dtype.newbyteorder("<")
