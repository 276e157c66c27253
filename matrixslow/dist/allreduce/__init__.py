"""Ring allreduce over gRPC: every worker ends with the sum of every worker's gradients.

``flatten`` lays a ``{name: gradient}`` dict out as one buffer and back, ``inbox`` is the
receiving side (servicer and thread-safe chunk inbox), ``send_stream`` the sending side (one
long-lived stream to the right neighbour), ``parts`` and ``wire`` cut segments into parts and
put them into messages, ``worker`` is the ``RingAllReduce`` ring member that runs the
reduce-scatter and all-gather steps, ``output`` checks an ``out=`` array, and ``mpi`` is
``MpiAllReduce``, the same interface over an MPI communicator (mpi4py is imported only when one
is made).
"""

from ...extras import needs_extra

with needs_extra("dist", __name__):
    from .flatten import Slot, flatten_arrays, unflatten_arrays
    from .inbox import ChunkInbox, RingAbortedError, RingAllReduceServicer, RingTimeoutError
    from .mpi import MpiAllReduce
    from .worker import DEFAULT_DEADLINE_SECONDS, DEFAULT_MAX_MESSAGE_BYTES, RingAllReduce

__all__ = [
    "DEFAULT_DEADLINE_SECONDS",
    "DEFAULT_MAX_MESSAGE_BYTES",
    "ChunkInbox",
    "MpiAllReduce",
    "RingAbortedError",
    "RingAllReduce",
    "RingAllReduceServicer",
    "RingTimeoutError",
    "Slot",
    "flatten_arrays",
    "unflatten_arrays",
]
