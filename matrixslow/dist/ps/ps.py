"""The book's parameter-server names (chapter 11): ``from matrixslow.dist.ps import ps``.

The book starts its parameter server with::

    server = ps.ParameterServiceServer(cluster_conf, sync=True)
    server.serve()  # blocks; Ctrl-C stops it

``ParameterServiceServer`` is ``ParameterServer`` (one shard of ``server.py``) bound to the
address ``cluster_conf["ps"][0]`` names, for ``len(cluster_conf["workers"])`` workers; the
workers' ``DistTrainerParameterServer(..., cluster_conf=cluster_conf, worker_index=i)`` reach it
there. With several ``"ps"`` entries (our shards) start one per entry, ``ps_index=0, 1, ...``.
"""

import threading

from .server import ParameterServer
from .state import SYNC

__all__ = ["ParameterServiceServer"]


class ParameterServiceServer(ParameterServer):
    """One parameter-server shard at ``cluster_conf["ps"][ps_index]``, serving the cluster's workers.

    Parameters
    ----------
    cluster_conf : dict
        ``{"ps": ["host:port", ...], "workers": ["host:port", ...]}``, the dict the workers get.
    sync : bool, default True
        The book's synchronous mode: every step waits for every worker's gradients. The book's
        asynchronous mode (``sync=False``) is refused: ``DistTrainerParameterServer`` trains
        synchronously. (``ParameterServer(n, mode="async", learning_rate=...)`` with a
        ``ParameterServerClient`` is our asynchronous server.)
    max_workers : int, optional
        Server threads (the book's name); by default two per worker plus a few, see ``ParameterServer``.
    ps_index : int, default 0
        Which ``"ps"`` entry this process serves.
    """

    def __init__(self, cluster_conf, sync=True, max_workers=None, ps_index=0, **server_kargs):
        addresses, workers = _entries(cluster_conf, "ps"), _entries(cluster_conf, "workers")
        if not 0 <= ps_index < len(addresses):
            raise ValueError(f"ParameterServiceServer: ps_index {ps_index} is outside cluster_conf['ps'] {addresses}")
        if not sync:
            raise ValueError(
                "ParameterServiceServer: sync=False (the book's asynchronous mode) is not supported: "
                "DistTrainerParameterServer trains synchronously; use sync=True"
            )
        super().__init__(len(workers), addresses[ps_index], mode=SYNC, max_threads=max_workers, **server_kargs)
        self.cluster_conf = cluster_conf
        self.sync = sync
        self._stopped = threading.Event()

    def serve(self):
        """Bind, print the book's line, and block until ``stop()`` (from another thread) or Ctrl-C."""
        address = self.start()
        print(
            f"[PS] Parameter server (mode: Sync) running on {address} and worker num {self.state.num_workers}",
            flush=True,
        )
        try:
            self._stopped.wait()
        except KeyboardInterrupt:
            self.stop()

    def stop(self, grace=None):
        """Stop serving; ``serve()`` then returns. Safe to call twice."""
        if not self._stopped.is_set():
            super().stop(grace)
            self._stopped.set()


def _entries(cluster_conf, key):
    entries = cluster_conf.get(key) if isinstance(cluster_conf, dict) else None
    if not entries or not isinstance(entries, (list, tuple)):
        raise ValueError(
            f"ParameterServiceServer: cluster_conf needs a non-empty list {key!r} of 'host:port' entries, "
            f"got {cluster_conf!r}"
        )
    return list(entries)
