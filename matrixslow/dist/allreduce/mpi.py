"""The same allreduce through MPI: for jobs started by ``mpirun``/``mpiexec`` or Slurm instead of the launcher.

``MpiAllReduce`` has the interface of ``RingAllReduce`` (``rank``, ``world_size``, ``connect``,
``allreduce``, ``bytes_sent``, ``close``), so the ring trainer can use either. The MPI library
picks the reduction algorithm and the transport (shared memory on one host, TCP or InfiniBand
between hosts); the processes, their ranks and their addresses come from the MPI launcher, so no
cluster spec is needed::

    mpirun -np 4 python train.py

mpi4py is imported only when an ``MpiAllReduce`` is made: ``pip install -e ".[mpi]"`` (in the
checkout) installs it with an MPI library from PyPI.

Unlike the gRPC ring there are no deadlines: when one process dies, ``mpirun`` aborts the
whole job.
"""

import numpy as np

from ...extras import needs_extra
from .output import checked_out


def import_mpi():
    """mpi4py's ``MPI`` module (importing it initialises MPI), or a ``MissingExtraError`` naming the ``mpi`` extra."""
    # A missing MPI library fails here too ("libmpi.so...: cannot open"), with the same remedy.
    with needs_extra("mpi", "MpiAllReduce (the MPI allreduce backend)"):
        from mpi4py import MPI
    return MPI


def ring_equivalent_bytes(nbytes, world_size):
    """Bytes one worker sends in a bandwidth-optimal allreduce of ``nbytes``: ``2 (N - 1) / N * nbytes``."""
    return round(2 * (world_size - 1) * nbytes / world_size)


class MpiAllReduce:
    """An allreduce member on an MPI communicator.

    Parameters
    ----------
    comm : mpi4py.MPI.Comm, optional
        The processes that reduce together; ``MPI.COMM_WORLD`` (every process ``mpirun`` started) by default.

    Attributes
    ----------
    rank, world_size : int
        This process's rank in ``comm`` and the size of ``comm``.
    bytes_sent : int
        MPI does not say what it sent, so this is the bandwidth-optimal figure of the last
        allreduce, ``2 (N - 1) / N`` of the buffer's bytes (what the ring sends), which is the
        figure bus bandwidth is defined by. The sample count is not included.

    Examples
    --------
    >>> worker = MpiAllReduce()                          # doctest: +SKIP
    >>> total, samples = worker.allreduce(grads, batch)  # doctest: +SKIP
    """

    def __init__(self, comm=None):
        mpi = import_mpi()
        self.comm = mpi.COMM_WORLD if comm is None else comm
        self._mpi = mpi
        self._sum = mpi.SUM
        self.rank = self.comm.Get_rank()
        self.world_size = self.comm.Get_size()
        self.bytes_sent = 0

    def connect(self, addresses=None):
        """Nothing to do: ``mpirun`` connected the processes. ``addresses`` is accepted and ignored."""

    def allreduce(self, buffer, sample_count, out=None):
        """Sum ``buffer`` and ``sample_count`` over every process of the communicator.

        Every process must call this the same number of times with buffers of the same size and dtype.

        Parameters
        ----------
        buffer : array_like
            This process's gradient sum, any shape, a numeric dtype MPI knows (float32, float64, ints).
        sample_count : int
            How many samples were summed into ``buffer``.
        out : numpy.ndarray, optional
            Where to write the sum (``buffer`` itself is fine), as in ``RingAllReduce.allreduce``.

        Returns
        -------
        sum : numpy.ndarray
            ``out``, or else a new array of the same shape and dtype as ``buffer``.
        total_count : int
            The exact sum of every process's ``sample_count`` (reduced as int64, never as a float).
        """
        buffer = np.asarray(buffer)
        if not (np.issubdtype(buffer.dtype, np.number) and buffer.dtype.kind != "c"):
            raise ValueError(
                f"MpiAllReduce rank {self.rank}: cannot sum a buffer of dtype {buffer.dtype.name}; "
                "expected a real numeric dtype such as float32 or float64"
            )
        # MPI reads raw memory: it needs one contiguous block in the machine's own byte order.
        out = checked_out(out, buffer, f"MpiAllReduce rank {self.rank}")
        send = np.ascontiguousarray(buffer, dtype=buffer.dtype.newbyteorder("=")).reshape(-1)
        total = out.reshape(-1) if out is not None and out.dtype.isnative else np.empty_like(send)
        # MPI forbids overlapping send and receive buffers; summing in place is its IN_PLACE mode.
        self.comm.Allreduce(self._mpi.IN_PLACE if np.shares_memory(send, total) else send, total, op=self._sum)
        # A separate tiny reduction keeps the count an exact integer whatever the buffer's dtype.
        count = np.array([int(sample_count)], dtype=np.int64)
        total_count = np.empty_like(count)
        self.comm.Allreduce(count, total_count, op=self._sum)
        self.bytes_sent = ring_equivalent_bytes(send.nbytes, self.world_size)
        if out is not None:
            if not np.shares_memory(out, total):  # out is not in the machine's byte order
                out[...] = total.reshape(buffer.shape)
            return out, int(total_count[0])
        return total.reshape(buffer.shape).astype(buffer.dtype, copy=False), int(total_count[0])

    def say_goodbye(self):
        """Nothing to say: MPI needs no goodbye between ranks (``RingAllReduce``'s interface)."""

    def close(self, wait_for_left=False):
        """Nothing to release: MPI itself is finalised when the process exits. Safe to call twice.

        ``wait_for_left`` is accepted for ``RingAllReduce``'s signature; MPI needs no goodbye.
        """

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()
