"""The book's distributed trainers: synchronous data parallelism by ring allreduce or parameter server.

Every worker runs the same graph on its own shard of the data. After each mini-batch the
workers combine their gradient sums and sample counts, so each one applies the exact
sample-weighted mean over the union of the batches: the same update one process would make
on all the batches together. Every worker must run the same number of steps per epoch
(same shard size and batch size); this is checked before the first step, and a mismatch
raises ``ValueError`` on every worker instead of leaving one waiting for the others.

With checkpoints, worker 0 saves every K steps and at the job's last step. A job started again
whose checkpoint already reaches its last step trains nothing: it sets ``already_finished``.
After training every worker holds ``final_loss``, the mean loss of the final weights over every
worker's training samples: the same figure for a run resumed from a checkpoint as for an
unbroken one, since both end with the same weights.
"""

import hashlib

import numpy as np

from ..core.scope import get_trainable_variables_from_graph
from ..trainer.trainer import Trainer
from .allreduce import DEFAULT_DEADLINE_SECONDS, MpiAllReduce, RingAllReduce, flatten_arrays, unflatten_arrays
from .checkpoint import Checkpoints
from .ps import ParameterServerClient

BACKENDS = ("grpc", "mpi")
# Key prefixes of start_arrays.
WEIGHT, OPTIMIZER_STATE = "weight ", "optimizer "
# 2**48 fingerprints, small enough to travel exactly as float64 inside a gradient-shaped buffer.
FINGERPRINT_BITS = 48


def trainable_values(graph):
    """``{name: value}`` of every trainable Variable of ``graph``."""
    return {node.name: node.value for node in get_trainable_variables_from_graph(graph=graph)}


def gradient_sums(optimizer):
    """Every trainable variable's accumulated gradient sum by name; zeros for one the loss does not reach.

    A trainable outside the loss's reach has no gradient, and a zero one moves it by nothing
    under every optimizer; sending it anyway gives every step the same layout, which the
    ring's flat buffer and the parameter servers' variable checks rely on.
    """
    sums = {name: np.zeros_like(value) for name, value in trainable_values(optimizer.graph).items()}
    sums.update({node.name: node_sum for node, node_sum in optimizer.acc_gradient.items()})
    return sums


def weights_checksum(graph):
    """SHA-256 over every trainable weight of ``graph``, in name order, byte for byte.

    Synchronous data parallelism leaves every worker with the very same weights: equal
    checksums printed by the workers show it.
    """
    digest = hashlib.sha256()
    for name, value in sorted(trainable_values(graph).items()):
        digest.update(name.encode())
        digest.update(np.ascontiguousarray(value, dtype=np.float64).tobytes())
    return digest.hexdigest()


def set_values(graph, values):
    """Set each named Variable of ``graph`` to its value in ``values``."""
    for name, value in values.items():
        graph.get(name).set_value(np.asarray(value, dtype=graph.get(name).value.dtype))


def start_arrays(optimizer):
    """The weights and the optimizer's state in one ``{key: array}`` dict: what worker 0 hands every worker."""
    arrays = {WEIGHT + name: value for name, value in trainable_values(optimizer.graph).items()}
    arrays.update({OPTIMIZER_STATE + key: value for key, value in optimizer.state_arrays().items()})
    return arrays


def set_start_arrays(optimizer, arrays):
    """Set what ``start_arrays`` gave into this worker's graph and optimizer."""
    set_values(optimizer.graph, _with_prefix(arrays, WEIGHT))
    optimizer.load_state_arrays(_with_prefix(arrays, OPTIMIZER_STATE))


def _with_prefix(arrays, prefix):
    return {key.removeprefix(prefix): value for key, value in arrays.items() if key.startswith(prefix)}


def graph_fingerprint(values):
    """A 48-bit integer summarising the arrays' names, shapes and dtypes, for a start-up check."""
    layout = ";".join(
        f"{name}:{np.shape(value)}:{np.asarray(value).dtype.name}" for name, value in sorted(values.items())
    )
    return int.from_bytes(hashlib.sha256(layout.encode()).digest()[: FINGERPRINT_BITS // 8], "big")


def check_same_graph(fingerprints, worker_index, values):
    """Raise ``ValueError`` unless every worker has the same trainable variables and optimizer state."""
    fingerprints = [int(round(value)) for value in fingerprints]
    if len(set(fingerprints)) != 1:
        odd = [index for index, value in enumerate(fingerprints) if value != fingerprints[0]]
        layout = {name: f"{np.asarray(value).dtype.name}{np.shape(value)}" for name, value in sorted(values.items())}
        raise ValueError(
            f"worker {worker_index}: the workers' graphs disagree: worker(s) {odd} have other trainable variables "
            f"(names, shapes or dtypes) or another optimizer than worker 0; this worker has {layout}"
        )


def make_checkpoints(checkpoint_dir, checkpoint_every):
    """``Checkpoints`` when a directory is given, else None; ``every`` defaults to 100 steps."""
    if checkpoint_dir is None:
        return None
    return Checkpoints(checkpoint_dir, checkpoint_every or 100)


def _checkpoint_if_due(trainer):
    """Worker 0 saves a checkpoint when the step just made is due or the last; every worker holds the same weights."""
    checkpoints, step = trainer.checkpoints, trainer.global_step
    if trainer.worker_index == 0 and checkpoints is not None and checkpoints.due(step, trainer.last_step):
        checkpoints.save(trainer.optimizer.graph, step, trainer.optimizer)


def _finished_before(trainer, steps_per_epoch):
    """Set the job's ``last_step``; True (and ``already_finished``) when the restored checkpoint reaches it.

    Such a job has nothing left to train: its weights are the checkpoint's, and no step is
    made or saved. ``global_step`` is the checkpoint's step.
    """
    trainer.last_step = trainer.epoches * steps_per_epoch
    trainer.already_finished = trainer.resume_step > 0 and trainer.resume_step >= trainer.last_step
    if trainer.already_finished:
        trainer.global_step = trainer.resume_step
    return trainer.already_finished


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
        ``{"workers": ["host:port", ...]}``, indexed by worker; this worker listens on its own
        entry. Not used with ``backend="mpi"``.
    worker_index : int
        This worker's position; with ``backend="mpi"`` it is the MPI rank (and may be omitted).
    timeout : float
        Seconds every ring exchange may wait for a neighbour (gRPC backend).
    backend : {"grpc", "mpi"}
        ``"grpc"``: this package's ring over gRPC, processes started by ``matrixslow.dist.launch``.
        ``"mpi"``: mpi4py's ``Allreduce`` on ``MPI.COMM_WORLD``, processes started by ``mpirun``.
    checkpoint_dir, checkpoint_every : optional
        Worker 0 saves the model there every ``checkpoint_every`` steps and at the last step; a
        job started again with the same directory resumes from the newest checkpoint, and one
        whose checkpoint reaches its last step trains nothing (``already_finished``).
    tls : matrixslow.dist.tls.PeerTLS, optional
        Mutual TLS between the workers (gRPC backend; ``cluster.current().tls`` under the launcher).

    Before the first step the workers check that their graphs have the same trainable variables
    and the same steps per epoch, and worker 0's initial (or restored) weights reach every worker
    (an allreduce in which the others contribute zeros). After training, ``final_loss`` is the
    mean loss of the final weights over every worker's samples. Call ``close()`` after training.
    """

    def __init__(
        self,
        *trainer_args,
        cluster_conf=None,
        worker_index=None,
        timeout=DEFAULT_DEADLINE_SECONDS,
        backend="grpc",
        checkpoint_dir=None,
        checkpoint_every=None,
        tls=None,
        **trainer_kargs,
    ):
        super().__init__(*trainer_args, **trainer_kargs)
        if backend == "mpi":
            self.ring = MpiAllReduce()
            if worker_index is not None and worker_index != self.ring.rank:
                raise ValueError(f"DistTrainerRingAllReduce: worker_index {worker_index} is not the MPI rank")
            if tls is not None:
                raise ValueError("DistTrainerRingAllReduce: tls is for the grpc backend; MPI chooses its own transport")
            self.addresses = None
            self.worker_index = self.ring.rank
        elif backend == "grpc":
            if cluster_conf is None or worker_index is None:
                raise ValueError("DistTrainerRingAllReduce: the grpc backend needs cluster_conf and worker_index")
            self.addresses = _worker_addresses(cluster_conf, worker_index, type(self).__name__)
            self.worker_index = worker_index
            self.ring = RingAllReduce(
                worker_index, len(self.addresses), self.addresses[worker_index], deadline=timeout, tls=tls
            )
        else:
            raise ValueError(f"DistTrainerRingAllReduce: backend {backend!r} is not one of {list(BACKENDS)}")
        self.num_workers = self.ring.world_size
        self.checkpoints = make_checkpoints(checkpoint_dir, checkpoint_every)
        self.last_step = None  # the job's last step, known once main_loop has checked the steps per epoch
        self.already_finished = False
        self.final_loss = None
        self._connected = False
        self._finished = False

    def _variable_weights_init(self):
        if not self._connected:
            self.ring.connect(self.addresses)
            self._connected = True
        self._check_same_graph(start_arrays(self.optimizer))
        if self.worker_index == 0 and self.checkpoints is not None:
            self.resume_step = self.checkpoints.restore(self.optimizer.graph, self.optimizer)
        buffer, layout = flatten_arrays(start_arrays(self.optimizer), dtype=np.float64)
        # One extra element carries worker 0's resume step; x + 0 == x exactly, so with the
        # others contributing zeros the sum is worker 0's weights, optimizer state and step bit for bit.
        carrier = np.zeros(buffer.size + 1)
        if self.worker_index == 0:
            carrier[:-1], carrier[-1] = buffer, self.resume_step
        total, _ = self.ring.allreduce(carrier, 1)
        self.resume_step = int(round(float(total[-1])))
        set_start_arrays(self.optimizer, unflatten_arrays(total[:-1], layout))

    def _check_same_graph(self, values):
        # Each worker's fingerprint sits in its own slot, so every worker sees all of them.
        slots = np.zeros(self.num_workers)
        slots[self.worker_index] = graph_fingerprint(values)
        every_worker, _ = self.ring.allreduce(slots, 1)
        check_same_graph(every_worker, self.worker_index, values)

    def main_loop(self, train, test):
        steps = np.zeros(self.num_workers)
        steps[self.worker_index] = _steps_per_epoch(len(train[1]), self.batch_size)
        every_worker, _ = self.ring.allreduce(steps, 1)
        check_steps_per_epoch(every_worker, self.worker_index)
        if not _finished_before(self, int(steps[self.worker_index])):
            super().main_loop(train, test)
        self.final_loss = self._mean_loss_over_workers(train)
        self.ring.say_goodbye()  # at once, so that a neighbour's close() need not wait for ours
        self._finished = True

    def _mean_loss_over_workers(self, train):
        # Each worker's loss sum in its own slot: exact whatever the ring's order, then one fixed sum.
        slots = np.zeros(self.num_workers)
        slots[self.worker_index] = sum(self.evaluation_batches(*train))
        every_worker, samples = self.ring.allreduce(slots, len(train[1]))
        return float(np.sum(every_worker)) / samples

    def _optimizer_update(self):
        sums = gradient_sums(self.optimizer)
        buffer, layout = flatten_arrays(sums)
        total, count = self.ring.allreduce(buffer, self.optimizer.acc_no, out=buffer)  # in place: no second buffer
        # The global sums over the global sample count: update() then applies the exact global mean.
        self.optimizer.apply_gradients(unflatten_arrays(total, layout), summarize=False, acc_no=count)
        self.optimizer.update()

    def _after_update(self):
        _checkpoint_if_due(self)

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
    checkpoint_dir, checkpoint_every : optional
        Worker 0 saves the model there every ``checkpoint_every`` steps and at the last step; a
        job started again with the same directory resumes from the newest checkpoint, and one
        whose checkpoint reaches its last step trains nothing (``already_finished``).
    tls : matrixslow.dist.tls.PeerTLS, optional
        Mutual TLS with the shards (``cluster.current().tls`` under the launcher).

    Every worker starts from worker 0's weights: the others wait until worker 0 has registered
    its variables (the servers refuse a worker whose variables differ in name, shape or dtype).
    The first server steps are spent on checking the steps per epoch and passing on worker 0's
    resume step and optimizer state; training steps follow. After training, ``final_loss`` is
    the mean loss of the final weights over every worker's samples, and every worker leaves
    its run on the shards. A job started again against shards that outlived it begins a new run
    there (worker 0's Init starts it clean, see ``matrixslow.dist.ps.runs``).
    """

    def __init__(
        self,
        *trainer_args,
        cluster_conf,
        worker_index,
        timeout=DEFAULT_DEADLINE_SECONDS,
        checkpoint_dir=None,
        checkpoint_every=None,
        tls=None,
        **trainer_kargs,
    ):
        super().__init__(*trainer_args, **trainer_kargs)
        self.checkpoints = make_checkpoints(checkpoint_dir, checkpoint_every)
        _worker_addresses(cluster_conf, worker_index, type(self).__name__)
        self.num_workers = len(cluster_conf["workers"])
        self.worker_index = worker_index
        self.timeout = timeout
        self.client = ParameterServerClient(
            cluster_conf["ps"], worker_index, rpc_timeout=timeout, step_timeout=timeout, tls=tls
        )
        self.step = 0
        self.last_step = None  # the job's last step, known once main_loop has checked the steps per epoch
        self.already_finished = False
        self.final_loss = None

    def _variable_weights_init(self):
        if self.worker_index == 0 and self.checkpoints is not None:
            self.resume_step = self.checkpoints.restore(self.optimizer.graph, self.optimizer)
        values = trainable_values(self.optimizer.graph)
        if self.worker_index != 0:
            # The first Init decides the start; waiting for worker 0's makes that start worker 0's weights.
            self._wait_for_first_init(values)
        # join_only: should worker 0's run end before this Init, fail rather than begin a run with these weights.
        set_values(self.optimizer.graph, self.client.init(values, join_only=self.worker_index != 0))

    def _wait_for_first_init(self, values):
        try:
            self.client.wait_until_initialised(values, self.timeout)
        except TimeoutError as error:
            raise TimeoutError(
                f"worker {self.worker_index}: the parameter servers {self.client.addresses} got no weights "
                f"from worker 0 within {self.timeout:g} s; is worker 0 running? (the last answer: {error.last_answer})"
            ) from None

    def main_loop(self, train, test):
        state, state_layout = flatten_arrays(self.optimizer.state_arrays())
        steps_per_epoch = _steps_per_epoch(len(train[1]), self.batch_size)
        self._exchange_start(steps_per_epoch, state.size)
        if state.size:
            # Worker 0's optimizer state (restored from a checkpoint, or zeros) reaches every worker.
            shared = self._sum_over_workers(state if self.worker_index == 0 else np.zeros_like(state))
            self.optimizer.load_state_arrays(unflatten_arrays(shared, state_layout))
        if not _finished_before(self, steps_per_epoch):
            super().main_loop(train, test)
        self.final_loss = self._mean_loss_over_workers(train)
        self.client.leave()  # the run is finished once every worker has left: a standalone shard then exits

    def _mean_loss_over_workers(self, train):
        # Loss sums and sample counts, each worker in slots of its own, so that the sums are exact.
        slots = np.zeros(2 * self.num_workers)
        slots[self.worker_index] = sum(self.evaluation_batches(*train))
        slots[self.num_workers + self.worker_index] = len(train[1])
        summed = self._sum_over_workers(slots)
        return float(np.sum(summed[: self.num_workers])) / float(np.sum(summed[self.num_workers :]))

    def _exchange_start(self, steps, state_size):
        """Check that every worker runs as many steps per epoch with the same optimizer; learn the resume step."""
        workers = self.num_workers
        # Each worker writes into slots of its own (its steps, its optimizer's state size); worker 0
        # adds its resume step. The sum over the workers then holds every value.
        slots = np.zeros(2 * workers + 1)
        slots[self.worker_index] = steps
        slots[workers + 1 + self.worker_index] = state_size
        if self.worker_index == 0:
            slots[workers] = self.resume_step
        exchanged = np.round(self._sum_over_workers(slots))
        check_steps_per_epoch(exchanged[:workers], self.worker_index)
        if len(set(exchanged[workers + 1 :])) != 1:
            raise ValueError(
                f"worker {self.worker_index}: the workers' optimizers keep states of different sizes "
                f"{[int(size) for size in exchanged[workers + 1 :]]}; every worker must use the same optimizer"
            )
        self.resume_step = int(exchanged[workers])

    def _sum_over_workers(self, vector):
        """The sum over every worker of a 1-D ``vector``, exactly, through the servers' averaging.

        It travels in gradient-shaped pieces, one server step each. The servers return the
        sample-weighted mean, so worker 0 pushes over a sample count that makes the total a
        power of two and the others over one sample: mean * total is then the sum as exactly as
        adding can give it, since dividing and multiplying by a power of two loses nothing.
        """
        buffer, layout = flatten_arrays(trainable_values(self.optimizer.graph))
        total_count = 1 << (self.num_workers - 1).bit_length()
        count = total_count - (self.num_workers - 1) if self.worker_index == 0 else 1
        summed = np.empty(len(vector))
        for start in range(0, len(vector), buffer.size):
            piece = vector[start : start + buffer.size]
            buffer[:] = 0
            buffer[: piece.size] = piece
            means, pulled_count = self.client.push_pull(self.step, unflatten_arrays(buffer, layout), count)
            self.step += 1
            summed[start : start + piece.size] = flatten_arrays(means)[0][: piece.size] * pulled_count
        return summed

    def _optimizer_update(self):
        sums = gradient_sums(self.optimizer)
        means, _ = self.client.push_pull(self.step, sums, self.optimizer.acc_no)
        self.step += 1
        self.optimizer.apply_gradients(means)  # means, not sums: acc_no becomes 1
        self.optimizer.update()

    def _after_update(self):
        _checkpoint_if_due(self)

    def close(self):
        """Close the connections to the shards."""
        self.client.close()
