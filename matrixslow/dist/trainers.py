"""The book's distributed trainers: synchronous data parallelism by ring allreduce or parameter server.

Every worker runs the same graph on its own shard of the data. After each mini-batch the
workers combine their gradient sums and sample counts, so each one applies the exact
sample-weighted mean over the union of the batches: the same update one process would make
on all the batches together. Every worker must run the same number of steps per epoch
(same shard size and batch size); this is checked before the first step, and a mismatch
raises ``ValueError`` on every worker instead of leaving one waiting for the others.
"""

import time

import grpc
import numpy as np

from ..core.variable import Variable
from ..trainer.trainer import Trainer
from .allreduce import DEFAULT_DEADLINE_SECONDS, RingAllReduce, flatten_arrays, unflatten_arrays
from .ps import ParameterServerClient, shard_variables

DEFAULT_TIMEOUT_SECONDS = 30.0
INIT_POLL_SECONDS = 0.02


def trainable_values(graph):
    """``{name: value}`` of every trainable Variable of ``graph``."""
    return {node.name: node.value for node in graph.nodes if isinstance(node, Variable) and node.trainable}


def set_values(graph, values):
    """Set each named Variable of ``graph`` to its value in ``values``."""
    for name, value in values.items():
        graph.get(name).set_value(np.asarray(value, dtype=graph.get(name).value.dtype))


def check_steps_per_epoch(steps_by_worker, worker_index):
    """Raise ``ValueError`` unless every worker runs the same number of steps per epoch."""
    steps_by_worker = [int(round(steps)) for steps in steps_by_worker]
    if len(set(steps_by_worker)) != 1:
        raise ValueError(
            f"worker {worker_index}: workers run different numbers of steps per epoch {steps_by_worker} "
            "(steps = ceil(shard size / batch_size)); give every worker a shard of the same size"
        )


def _steps_per_epoch(sample_total, batch_size):
    return -(-sample_total // batch_size)


def _worker_addresses(cluster_conf, worker_index, trainer):
    workers = list(cluster_conf.get("workers", []))
    if not 0 <= worker_index < len(workers):
        raise ValueError(f"{trainer}: worker_index {worker_index} is outside cluster_conf['workers'] {workers}")
    return workers


class DistTrainerRingAllReduce(Trainer):
    """Data-parallel training where the workers sum their gradients round a ring.

    Parameters
    ----------
    *trainer_args, **trainer_kargs
        As for ``Trainer``.
    cluster_conf : dict
        ``{"workers": ["host:port", ...]}``, indexed by worker; this worker listens on its own entry.
    worker_index : int
    timeout : float
        Seconds every ring exchange may wait for a neighbour.

    Worker 0's initial weights reach every worker before the first step (an allreduce in which
    the other workers contribute zeros). Call ``close()`` after training to stop the ring server.
    """

    def __init__(self, *trainer_args, cluster_conf, worker_index, timeout=DEFAULT_DEADLINE_SECONDS, **trainer_kargs):
        super().__init__(*trainer_args, **trainer_kargs)
        self.addresses = _worker_addresses(cluster_conf, worker_index, type(self).__name__)
        self.worker_index = worker_index
        self.ring = RingAllReduce(worker_index, len(self.addresses), self.addresses[worker_index], deadline=timeout)
        self._connected = False
        self._finished = False

    def _variable_weights_init(self):
        if not self._connected:
            self.ring.connect(self.addresses)
            self._connected = True
        values = trainable_values(self.optimizer.graph)
        buffer, layout = flatten_arrays(values)
        if self.worker_index != 0:
            buffer[:] = 0  # x + 0 == x exactly, so the sum is worker 0's weights bit for bit
        total, _ = self.ring.allreduce(buffer, 1)
        set_values(self.optimizer.graph, unflatten_arrays(total, layout))

    def main_loop(self, train, test):
        # Each worker's step count sits in its own slot, so every worker sees all of them.
        steps = np.zeros(len(self.addresses))
        steps[self.worker_index] = _steps_per_epoch(len(train[1]), self.batch_size)
        every_worker, _ = self.ring.allreduce(steps, 1)
        check_steps_per_epoch(every_worker, self.worker_index)
        super().main_loop(train, test)
        self.ring.say_goodbye()  # at once, so that a neighbour's close() need not wait for ours
        self._finished = True

    def _optimizer_update(self):
        sums = {node.name: node_sum for node, node_sum in self.optimizer.acc_gradient.items()}
        buffer, layout = flatten_arrays(sums)
        total, count = self.ring.allreduce(buffer, self.optimizer.acc_no)
        # The global sums over the global sample count: update() then applies the exact global mean.
        self.optimizer.apply_gradients(unflatten_arrays(total, layout), summarize=False, acc_no=count)
        self.optimizer.update()

    def close(self):
        """Stop this worker's ring server (after training, once the left neighbour is done); safe to call twice."""
        self.ring.close(wait_for_left=self._finished)


class DistTrainerParameterServer(Trainer):
    """Data-parallel training through synchronous parameter-server shards.

    Parameters
    ----------
    *trainer_args, **trainer_kargs
        As for ``Trainer``.
    cluster_conf : dict
        ``{"ps": ["host:port", ...], "workers": [...]}``; the shards are started separately,
        as ``ParameterServer(len(workers))`` in synchronous mode without a learning rate
        (this trainer's own optimizer applies the updates).
    worker_index : int
    timeout : float
        Seconds every RPC, and every wait for the other workers' pushes, may take.

    Every worker starts from worker 0's weights: the others wait until worker 0 has registered
    its variables. Step 0 of the servers is spent on checking the steps per epoch; training steps follow from 1.
    """

    def __init__(self, *trainer_args, cluster_conf, worker_index, timeout=DEFAULT_TIMEOUT_SECONDS, **trainer_kargs):
        super().__init__(*trainer_args, **trainer_kargs)
        _worker_addresses(cluster_conf, worker_index, type(self).__name__)
        self.num_workers = len(cluster_conf["workers"])
        self.worker_index = worker_index
        self.timeout = timeout
        self.client = ParameterServerClient(cluster_conf["ps"], worker_index, rpc_timeout=timeout, step_timeout=timeout)
        self.step = 0

    def _variable_weights_init(self):
        values = trainable_values(self.optimizer.graph)
        if self.worker_index != 0:
            # The first Init decides the start; waiting for worker 0's makes that start worker 0's weights.
            self._wait_for_first_init(values)
        set_values(self.optimizer.graph, self.client.init(values))

    def _wait_for_first_init(self, values):
        self.client.plan = shard_variables(values, len(self.client.addresses))
        give_up_at = time.monotonic() + self.timeout
        while True:
            try:
                self.client.pull_values()
                return
            except grpc.RpcError as error:
                if error.code() != grpc.StatusCode.FAILED_PRECONDITION:
                    raise
            if time.monotonic() > give_up_at:
                raise TimeoutError(
                    f"worker {self.worker_index}: the parameter servers {self.client.addresses} got no weights "
                    f"from worker 0 within {self.timeout:g} s; is worker 0 running?"
                )
            time.sleep(INIT_POLL_SECONDS)

    def main_loop(self, train, test):
        self._exchange_steps_per_epoch(_steps_per_epoch(len(train[1]), self.batch_size))
        super().main_loop(train, test)

    def _exchange_steps_per_epoch(self, steps):
        # The servers only average gradients, so each worker writes its step count into its own
        # element of a zero "gradient"; mean * total count gives every worker's count back.
        values = trainable_values(self.optimizer.graph)
        buffer, layout = flatten_arrays(values)
        if buffer.size < self.num_workers:
            raise ValueError(f"worker {self.worker_index}: too few weights to exchange steps per epoch")
        buffer[:] = 0
        buffer[self.worker_index] = steps
        self.client.push(self.step, unflatten_arrays(buffer, layout), 1)
        means, count = self.client.pull(self.step)
        self.step += 1
        mean_buffer, _ = flatten_arrays(means)
        check_steps_per_epoch(mean_buffer[: self.num_workers] * count, self.worker_index)

    def _optimizer_update(self):
        sums = {node.name: node_sum for node, node_sum in self.optimizer.acc_gradient.items()}
        self.client.push(self.step, sums, self.optimizer.acc_no)
        means, _ = self.client.pull(self.step)
        self.step += 1
        self.optimizer.apply_gradients(means)  # means, not sums: acc_no becomes 1
        self.optimizer.update()

    def close(self):
        """Close the connections to the shards."""
        self.client.close()
