"""The worker's side: route each variable to its shard and talk to every shard in parallel.

Push streams the gradients to a shard in parts, Pull streams the result back the same way (see ``parts``).
``push_pull`` makes a synchronous step of a small model one message each way per shard, on a
long-lived Steps stream (``step_stream``), instead of a Push and a Pull call: opening a call costs
gRPC's Python threads about a millisecond. A shard short of threads for streams gets PushPull calls.
"""

import itertools
import queue
import secrets
import threading
import time
from concurrent import futures

import grpc
import numpy as np

from ...codec.tensors import channel_options
from ..proto import parameter_server_pb2 as pb
from ..tls import check_peer, open_channel
from .parts import PartCollector, decode_message, encode_message, encode_whole, fits_one_message, messages, part_bytes
from .server import DEFAULT_MAX_MESSAGE_BYTES, SERVICE_NAME
from .sharding import shard_variables
from .step_stream import StepStream


class StaleGradientError(RuntimeError):
    """An asynchronous push was rejected as more than ``max_staleness`` steps behind."""

    def __init__(self, message, server_step):
        super().__init__(message)
        self.server_step = server_step


class ShardCallError(grpc.RpcError):
    """A call to one parameter-server shard failed; the message names the shard, ``code()`` is gRPC's."""

    def __init__(self, worker, address, error):
        super().__init__(
            f"worker {worker}: parameter server {address} failed the call: {error.code().name} {error.details()}"
        )
        self.address = address
        self.error = error

    def code(self):
        return self.error.code()

    def details(self):
        return self.error.details()


class ParameterServerClient:
    """One worker's connection to every parameter-server shard.

    Parameters
    ----------
    addresses : sequence of str
        ``host:port`` of each shard, in the same order on every worker (it decides the routing).
    worker : int
        This worker's index, ``0 .. num_workers - 1``.
    max_message_bytes : int
        Must match the servers'.
    rpc_timeout : float
        Deadline of every single RPC, in seconds.
    step_timeout : float
        How long ``pull`` keeps asking for a step before raising ``TimeoutError``.
    tls : matrixslow.dist.tls.PeerTLS, optional
        Talk TLS with this process's certificate, to shards the job's CA signed; None: plaintext.

    Every call carries ``session``, a random number drawn here: the shards tell this process
    from a restarted one at the same index by it (see ``runs``).
    """

    def __init__(
        self,
        addresses,
        worker,
        max_message_bytes=DEFAULT_MAX_MESSAGE_BYTES,
        rpc_timeout=30.0,
        step_timeout=60.0,
        tls=None,
    ):
        if not addresses:
            raise ValueError("a ParameterServerClient needs at least one shard address")
        self.addresses = list(addresses)
        self.worker = worker
        self.rpc_timeout = rpc_timeout
        self.step_timeout = step_timeout
        self.part_bytes = part_bytes(max_message_bytes)
        options = channel_options(max_message_bytes)
        for address in self.addresses:  # a shard already up with other TLS options: an error now, not at a deadline
            check_peer(address, tls, f"worker {worker}: parameter server {address}")
        self._channels = [open_channel(address, options, tls) for address in self.addresses]
        self._stubs = [PartStreamsStub(channel) for channel in self._channels]
        self._pool = futures.ThreadPoolExecutor(max_workers=len(self.addresses))
        self.plan = None  # name -> shard index, fixed by init
        self.session = secrets.randbits(63) or 1  # 0 would mean "does not say"
        self._streams = [None] * len(self.addresses)  # each shard's StepStream, opened by the first push_pull
        self._use_streams = True  # False once a shard refused a stream: push_pull then calls PushPull

    def _on_every_shard(self, call, on_failure=None, shards=None):
        """Run ``call(shard)`` for every shard (or those of ``shards``) at once; results in that order.

        The first failure is raised as soon as it happens, after ``on_failure()``: a shard whose
        run is over (graphs that disagree, a silent worker) is not kept waiting behind another
        shard's long-poll for a step that can no longer complete.
        """

        def naming_the_shard(shard):
            try:
                return call(shard)
            except grpc.RpcError as error:
                raise ShardCallError(self.worker, self.addresses[shard], error) from error

        shards = range(len(self._stubs)) if shards is None else shards
        jobs = [self._pool.submit(naming_the_shard, shard) for shard in shards]
        futures.wait(jobs, return_when=futures.FIRST_EXCEPTION)
        failed = [job for job in jobs if job.done() and job.exception() is not None]
        if failed:
            if on_failure is not None:
                on_failure()
            raise failed[0].exception()
        return [job.result() for job in jobs]

    def _by_shard(self, arrays):
        self._require_plan()
        unknown = sorted(set(arrays) - set(self.plan))
        if unknown:
            raise KeyError(f"worker {self.worker}: variables {unknown} were not registered by init")
        groups = [{} for _ in self._stubs]
        for name, array in arrays.items():
            groups[self.plan[name]][name] = np.asarray(array)
        return groups

    def _require_plan(self):
        if self.plan is None:
            raise RuntimeError(f"worker {self.worker}: call init before pushing or pulling")

    def init(self, variables, join_only=False):
        """Register the trainable variables and get the values every worker starts from.

        Parameters
        ----------
        variables : dict of str -> numpy.ndarray
        join_only : bool
            Join the shards' live run only (FAILED_PRECONDITION otherwise): never begin a run
            with these values.

        Returns
        -------
        dict of str -> numpy.ndarray
            The first worker's values (this worker's own if it was first).
        """
        self.plan = shard_variables(variables, len(self._stubs))
        groups = self._by_shard(variables)

        header = pb.InitHeader(worker=self.worker, session=self.session, join_only=join_only)

        def init_shard(shard):
            parts = header_then_parts(pb.InitPart, header, "variables", groups[shard], self.part_bytes)
            # wait_for_ready: on a cluster of machines a shard may still be starting when the workers are.
            replies = self._stubs[shard].Init(parts, timeout=self.rpc_timeout, wait_for_ready=True)
            return read_pull(replies, f"shard {self.addresses[shard]}")[1]

        return _merged(self._on_every_shard(init_shard))

    def push(self, step, gradients, sample_count):
        """Send the gradient sums of ``step`` over ``sample_count`` samples to every shard.

        Returns
        -------
        int
            The smallest server step reported by the shards.

        Raises
        ------
        StaleGradientError
            Asynchronous mode, when a shard found the push too stale.
        """
        groups = self._by_shard(gradients)

        header = pb.PushHeader(worker=self.worker, step=step, sample_count=sample_count, session=self.session)

        def push_shard(shard):
            parts = header_then_parts(pb.PushPart, header, "gradients", groups[shard], self.part_bytes)
            return self._stubs[shard].Push(parts, timeout=self.rpc_timeout)

        replies = self._on_every_shard(push_shard)
        for address, reply in zip(self.addresses, replies, strict=True):
            if not reply.accepted:
                raise StaleGradientError(f"shard {address}: {reply.reason}", reply.server_step)
        return min(reply.server_step for reply in replies)

    def pull(self, step):
        """The averaged gradients of ``step``, once every worker has pushed it.

        Returns
        -------
        (dict of str -> numpy.ndarray, int)
            The sample-weighted mean gradients and the total sample count behind them.

        Raises
        ------
        TimeoutError
            After ``step_timeout`` seconds, naming the shards and the workers that did not push.
        """
        self._require_plan()
        results = self._pull_means(step, time.monotonic() + self.step_timeout, range(len(self._stubs)))
        return _merged([means for means, _ in results]), results[0][1]

    def push_pull(self, step, gradients, sample_count):
        """``push`` then ``pull`` of a synchronous step: one message each way per shard.

        A push that needs several messages on some shard (more than about 1 MiB there) takes
        ``push`` and ``pull``: its transfer then costs far more than the extra calls. When a
        shard's answer is not ready (the other workers are slow), the push stands and this
        worker asks that shard as ``pull`` does, within the same ``step_timeout`` (which may then
        run out up to a long-poll late: the shard's first wait is bounded by its own long-poll).

        Returns
        -------
        (dict of str -> numpy.ndarray, int)
            As ``pull``.

        Raises
        ------
        TimeoutError
            As ``pull``.
        ShardCallError
            A shard refused the push or the pull (FAILED_PRECONDITION in asynchronous mode, before pushing).
        """
        groups = self._by_shard(gradients)
        if not all(fits_one_message(group, self.part_bytes) for group in groups):
            self.push(step, gradients, sample_count)
            return self.pull(step)
        deadline = time.monotonic() + self.step_timeout
        header = pb.PushHeader(worker=self.worker, step=step, sample_count=sample_count, session=self.session)
        requests = [encode_whole(pb.PushPart(header=header), "gradients", group) for group in groups]
        results, missing = {}, {}
        for shard, reply in enumerate(self._step_replies(step, requests)):
            answer, means = read_pull([reply], f"shard {self.addresses[shard]}")
            if answer.ready:
                results[shard] = means, answer.sample_count
            else:
                missing[shard] = list(answer.missing_workers)
        if missing:
            later = self._pull_means(step, deadline, sorted(missing), missing)
            results.update(zip(sorted(missing), later, strict=True))
        ordered = [results[shard] for shard in range(len(self._stubs))]
        return _merged([means for means, _ in ordered]), ordered[0][1]

    def _step_replies(self, step, requests):
        """Every shard's answer to its push of ``step``, in shard order: on the Steps streams, or by PushPull.

        The answers are read in shard order, so a shard that fails is named once the shards
        before it have answered: within their long-poll, as they answer "not ready" at the latest.
        """
        if not self._use_streams:
            replies = self._push_pull_calls(dict(enumerate(requests)))
            return [replies[shard] for shard in range(len(requests))]
        streams = [self._stream(shard) for shard in range(len(requests))]
        for stream, request in zip(streams, requests, strict=True):
            stream.send(request)
        replies, refused = {}, {}
        for shard, stream in enumerate(streams):
            try:
                replies[shard] = stream.receive()
            except grpc.RpcError as error:
                if stream.fresh and error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED:
                    refused[shard] = requests[shard]  # refused before the shard read the push: it goes by PushPull
                    continue
                self._close_streams(cancel=True)  # the other shards' answers to this step will not be read
                raise ShardCallError(self.worker, self.addresses[shard], error) from error
            if replies[shard] is None:
                self._close_streams(cancel=True)
                raise RuntimeError(
                    f"worker {self.worker}, step {step}: shard {self.addresses[shard]} ended its Steps stream "
                    "without answering the push"
                )
        if refused:
            self._use_streams = False  # a shard short of threads: every later step by PushPull
            self._close_streams()
            replies.update(self._push_pull_calls(refused))
        return [replies[shard] for shard in range(len(requests))]

    def _stream(self, shard):
        """The shard's open StepStream; a new one when there is none yet or the last one is worn."""
        stream = self._streams[shard]
        if stream is None or stream.worn():
            if stream is not None:
                stream.close()
            stream = self._streams[shard] = StepStream(self._stubs[shard].Steps, self.rpc_timeout)
        return stream

    def _close_streams(self, cancel=False):
        for shard, stream in enumerate(self._streams):
            if stream is not None:
                stream.close(cancel)
                self._streams[shard] = None

    def _push_pull_calls(self, requests):
        """``{shard: PushPull reply}`` for ``{shard: request}``; the first failure cancels the other calls."""
        if len(requests) == 1:  # a blocking call waits in this thread: no hand-over from gRPC's
            ((shard, request),) = requests.items()
            try:
                return {shard: self._stubs[shard].PushPull(request, timeout=self.rpc_timeout)}
            except grpc.RpcError as error:
                raise ShardCallError(self.worker, self.addresses[shard], error) from error
        calls = {
            shard: self._stubs[shard].PushPull.future(request, timeout=self.rpc_timeout)
            for shard, request in requests.items()
        }
        finished = queue.SimpleQueue()
        for shard, call in calls.items():
            call.add_done_callback(lambda _, shard=shard: finished.put(shard))
        for _ in calls:  # every call ends by its deadline at the latest
            shard = finished.get()
            error = calls[shard].exception()
            if error is not None:
                for call in calls.values():
                    call.cancel()  # a shard waiting for this step, which cannot complete now
                raise ShardCallError(self.worker, self.addresses[shard], error) from error
        return {shard: call.result() for shard, call in calls.items()}

    def _pull_means(self, step, deadline, shards, missing_at_start=None):
        """``[(means, sample count), ...]`` of ``step`` from each of ``shards``, asking until ``deadline``."""
        given_up, calls = threading.Event(), {}  # set once a shard failed; each shard's call in flight

        def give_up():
            given_up.set()
            for waiting in list(calls.values()):
                waiting.cancel()  # a long-poll on another shard: the step cannot complete now

        def pull_shard(shard):
            request = pb.PullRequest(worker=self.worker, step=step, content=pb.MEAN_GRADIENTS, session=self.session)
            missing = (missing_at_start or {}).get(shard, [])
            while True:
                if given_up.is_set():
                    raise RuntimeError(f"worker {self.worker}, step {step}: another shard failed the pull")
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(
                        f"worker {self.worker}, step {step}: shard {self.addresses[shard]} still waits after "
                        f"{self.step_timeout} s for workers {list(missing)} to push"
                    )
                try:
                    replies = calls[shard] = self._stubs[shard].Pull(request, timeout=min(self.rpc_timeout, remaining))
                    if given_up.is_set():  # give_up may have run before this call was in ``calls``
                        replies.cancel()
                    header, means = read_pull(replies, f"shard {self.addresses[shard]}")
                except grpc.RpcError as error:
                    # The step's deadline, not the RPC's, ran out while the shard answered: a step timeout.
                    if error.code() == grpc.StatusCode.DEADLINE_EXCEEDED and remaining < self.rpc_timeout:
                        continue
                    raise
                if header.ready:
                    return means, header.sample_count
                missing = header.missing_workers

        return self._on_every_shard(pull_shard, on_failure=give_up, shards=shards)

    def wait_until_initialised(self, variables, timeout, poll_seconds=0.02):
        """Wait until some worker's ``init`` has begun a run on every shard that this process may join.

        A worker that must start from another worker's weights calls this before its own
        ``init``; ``variables`` (this worker's, only their names and sizes matter) fix the routing.
        A run this worker's earlier process was part of does not count: a restarted worker waits
        for the Init that begins the new run.

        Raises
        ------
        TimeoutError
            After ``timeout`` seconds, naming the shards and what the last one said.
        """
        self.plan = shard_variables(variables, len(self._stubs))
        give_up_at = time.monotonic() + timeout
        while True:
            try:
                self.pull_values()
                return
            except grpc.RpcError as error:
                if error.code() != grpc.StatusCode.FAILED_PRECONDITION:  # anything but "no run to join yet"
                    raise
                said = error.details()
            if time.monotonic() > give_up_at:
                timeout_error = TimeoutError(
                    f"worker {self.worker}: the parameter servers {self.addresses} got no weights within {timeout:g} s"
                    f" ({said})"
                )
                timeout_error.last_answer = said  # the shard's own words, for callers that phrase their own error
                raise timeout_error
            time.sleep(poll_seconds)

    def pull_values(self):
        """The current variable values held by the shards.

        Returns
        -------
        (dict of str -> numpy.ndarray, int)
            The values and the smallest server step among the shards.
        """
        self._require_plan()

        def pull_shard(shard):
            request = pb.PullRequest(worker=self.worker, content=pb.VALUES, session=self.session)
            replies = self._stubs[shard].Pull(request, timeout=self.rpc_timeout, wait_for_ready=True)
            header, values = read_pull(replies, f"shard {self.addresses[shard]}")
            return values, header.step

        results = self._on_every_shard(pull_shard)
        return _merged([values for values, _ in results]), min(step for _, step in results)

    def leave(self):
        """Tell every shard this worker is done with its run; a run every worker left is finished."""
        self._close_streams()  # no step follows: the shards' threads they hold are free at once
        request = pb.LeaveRequest(worker=self.worker, session=self.session)
        self._on_every_shard(lambda shard: self._stubs[shard].Leave(request, timeout=self.rpc_timeout))

    def close(self):
        self._close_streams()
        self._pool.shutdown(wait=True)
        for channel in self._channels:
            channel.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()


class PartStreamsStub:
    """The ParameterService's methods, with the streams of parts as bytes (``parts.encode_message``)."""

    def __init__(self, channel):
        self.Init = channel.stream_stream(f"/{SERVICE_NAME}/Init")
        self.Push = channel.stream_unary(f"/{SERVICE_NAME}/Push", response_deserializer=pb.PushReply.FromString)
        self.Pull = channel.unary_stream(f"/{SERVICE_NAME}/Pull", request_serializer=pb.PullRequest.SerializeToString)
        self.PushPull = channel.unary_unary(f"/{SERVICE_NAME}/PushPull")
        self.Steps = channel.stream_stream(f"/{SERVICE_NAME}/Steps")
        self.Leave = channel.unary_unary(
            f"/{SERVICE_NAME}/Leave",
            request_serializer=pb.LeaveRequest.SerializeToString,
            response_deserializer=pb.LeaveReply.FromString,
        )


def header_then_parts(message_type, header, field, arrays, size):
    """An Init or Push stream, serialized: ``header`` and the first parts of ``arrays``, then the rest."""
    batches = messages(arrays, size)
    first = encode_message(message_type(header=header), field, next(batches))
    return itertools.chain([first], (encode_message(message_type(), field, batch) for batch in batches))


def read_pull(replies, who):
    """The ``PullHeader`` and ``{name: array}`` of a Pull (or Init) reply stream."""
    header, collector = None, PartCollector(who)
    for message in replies:
        reply, parts = decode_message(pb.PullPart, "tensors", message)
        if reply.HasField("header"):
            header = reply.header
        collector.add_all(parts)
    if header is None:
        raise ValueError(f"{who}: a Pull stream without its header")
    return header, collector.arrays()


def _merged(groups):
    merged = {}
    for group in groups:
        merged.update(group)
    return merged
