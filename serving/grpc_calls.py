"""What every gRPC method of the server does around its own work: parse, wait for the batch, answer or abort.

Shared by the model service (``serving.grpc_server``) and the v2 inference service (``serving.v2_grpc``),
so that both map errors to status codes, honour deadlines and count requests the same way.
"""

import asyncio
import time

import grpc
from google.protobuf.message import DecodeError

from .errors import InvalidRequest, RequestError

# time_remaining() above this means the client set no deadline.
NO_DEADLINE_SECONDS = 10**8


def seconds_left(context):
    """Seconds until the client's deadline, or None without one (gRPC then reports a huge number)."""
    remaining = context.time_remaining()
    return None if remaining is None or remaining > NO_DEADLINE_SECONDS else remaining


def parse(message_class, data):
    """The request message in ``data``; a message that does not parse is the client's error, not a server fault."""
    try:
        return message_class.FromString(data)
    except DecodeError as error:
        kind = message_class.DESCRIPTOR.full_name
        raise InvalidRequest(f"the request is not a valid {kind} message: {error}") from None


async def predicted(predictor, completions, inputs, output_names, context, version):
    """(outputs, version) of one request, awaited on the loop without a thread; RequestError if it fails."""
    timeout = seconds_left(context)
    pending = predictor.submit(inputs, output_names, timeout, version)
    answered = completions.future_for(pending)
    try:
        await asyncio.wait_for(answered, timeout)
    except TimeoutError:
        predictor.expire(pending)
    except asyncio.CancelledError:
        pending.abandon()  # the worker skips it
        raise
    return predictor.answer(pending)


async def counted(metrics, protocol, context, call):
    """Await ``call`` (a coroutine) as one request: RequestError -> its status code, a bug -> INTERNAL;
    the outcome counted under ``protocol`` in ``metrics``."""
    started = time.perf_counter()
    outcome = "OK"
    try:
        return await call
    except RequestError as error:
        outcome = error.code.name
        await context.abort(error.code, error.message)
    except asyncio.CancelledError:  # the client cancelled, or its deadline passed, while we waited
        outcome = "CANCELLED"
        raise
    except Exception as error:  # a bug must not take the server down; the client gets INTERNAL
        outcome = "INTERNAL"
        await context.abort(grpc.StatusCode.INTERNAL, f"internal error: {type(error).__name__}: {error}")
    finally:
        metrics.record_request(protocol, outcome, time.perf_counter() - started)
