"""Parameter server: workers push gradient sums, shards average or apply them, workers pull.

``state`` holds one shard's variables and step bookkeeping (synchronous and asynchronous modes),
``server`` serves it over gRPC, ``sharding`` splits the variables over shards by bytes,
``client`` is one worker's connection to every shard (``step_stream`` its long-lived stream of
synchronous steps to one shard), ``parts`` cuts tensors into the 1 MiB parts that Init, Push and
Pull stream, and ``runs`` tells one run of a job from the next (a restarted job starts clean, a
silent worker is named, a finished job lets its shards go).
"""

from ...extras import needs_extra

with needs_extra("dist", __name__):
    from .client import ParameterServerClient, StaleGradientError
    from .server import DEFAULT_MAX_MESSAGE_BYTES, ParameterServer, ParameterServicer
    from .sharding import shard_loads, shard_variables
    from .state import ASYNC, SYNC, NotReadyError, ParameterServerError, ParameterState, VariableMismatchError

__all__ = [
    "ASYNC",
    "DEFAULT_MAX_MESSAGE_BYTES",
    "SYNC",
    "NotReadyError",
    "ParameterServer",
    "ParameterServerClient",
    "ParameterServerError",
    "ParameterServicer",
    "ParameterState",
    "StaleGradientError",
    "VariableMismatchError",
    "shard_loads",
    "shard_variables",
]
