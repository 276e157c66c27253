"""matrixslow.dist.trainers: distributed training equals one process training on the union of the batches.

Workers run as threads on loopback, each with a graph of its own built from a different random
seed (so the start-up weight sync matters). The reference is one process that, at each step,
accumulates every worker's batch of that step and then updates once: the global sample-weighted
mean. The shards differ in size (10 and 11 samples) but not in steps per epoch, so the last
batches differ and only a sample-weighted mean matches. Every thread join, RPC and ring exchange has a timeout.
"""

import contextlib
import re
import time
from concurrent import futures

import numpy as np
import pytest

import matrixslow as ms
from matrixslow.dist.allreduce import RingTimeoutError
from matrixslow.dist.checkpoint import Checkpoints
from matrixslow.dist.launch import free_loopback_addresses
from matrixslow.dist.ps import ParameterServer
from matrixslow.dist.trainers import DistTrainerParameterServer, DistTrainerRingAllReduce

WAIT_SECONDS = 30
FEATURES, HIDDEN, CLASSES = 4, 5, 3
BATCH_SIZE, SHARD_SIZE, EPOCHES = 4, 10, 2

OPTIMIZERS = {
    "GradientDescent": lambda graph, loss: ms.optimizer.GradientDescent(graph, loss, 0.1),
    "Momentum": lambda graph, loss: ms.optimizer.Momentum(graph, loss, 0.1),
    "AdaGrad": lambda graph, loss: ms.optimizer.AdaGrad(graph, loss, 0.1),
    "RMSProp": lambda graph, loss: ms.optimizer.RMSProp(graph, loss, 0.05),
    "Adam": lambda graph, loss: ms.optimizer.Adam(graph, loss, 0.05),
}


def build_mlp(seed):
    """A two-layer perceptron in a graph of its own; weights drawn from ``seed``."""
    np.random.seed(seed)
    with ms.core.Graph() as graph:
        x = ms.Variable(dim=(FEATURES, 1), init=False, trainable=False, name="x")
        y = ms.Variable(dim=(CLASSES, 1), init=False, trainable=False, name="y")
        hidden = ms.layer.fc(x, FEATURES, HIDDEN, "Tanh")
        logits = ms.layer.fc(hidden, HIDDEN, CLASSES, None)
        loss = ms.ops.loss.CrossEntropyWithSoftMax(logits, y)
    return graph, x, y, loss


def weights(graph):
    return {node.name: np.array(node.value) for node in graph.nodes if getattr(node, "trainable", False)}


def shard(index, size=None):
    """Worker ``index``'s samples; by default 10 or 11 of them: 3 steps either way, last batches of 2 or 3."""
    size = SHARD_SIZE + index % 2 if size is None else size
    rng = np.random.default_rng(100 + index)
    return rng.normal(size=(size, FEATURES)), np.eye(CLASSES)[rng.integers(0, CLASSES, size)]


def recording(trainer_class):
    """The trainer class, remembering the weights after every update."""

    class Recording(trainer_class):
        def __init__(self, *args, **kargs):
            super().__init__(*args, **kargs)
            self.snapshots = []

        def _optimizer_update(self):
            super()._optimizer_update()
            self.snapshots.append(weights(self.optimizer.graph))

    return Recording


def reference_weights(optimizer_name, shards, steps_per_epoch):
    """One process, worker 0's start, each step the union of the workers' batches; weights after each step."""
    return reference_run(optimizer_name, shards, steps_per_epoch)[2]


def reference_run(optimizer_name, shards, steps_per_epoch, steps=None):
    """``reference_weights``'s run, stopped after ``steps`` updates if given: (graph, optimizer, snapshots)."""
    graph, x, y, loss = build_mlp(seed=0)
    optimizer = OPTIMIZERS[optimizer_name](graph, loss)
    snapshots = []
    for _ in range(EPOCHES):
        for step in range(steps_per_epoch):
            if len(snapshots) == steps:
                return graph, optimizer, snapshots
            for features, labels in shards:
                batch = slice(step * BATCH_SIZE, (step + 1) * BATCH_SIZE)
                x.set_value(features[batch].reshape(-1, FEATURES, 1))
                y.set_value(labels[batch].reshape(-1, CLASSES, 1))
                optimizer.one_step()
            optimizer.update()
            snapshots.append(weights(graph))
    return graph, optimizer, snapshots


def run_workers(make_trainer, shards):
    """Build every worker's trainer in this thread, then train them all in threads; returns the trainers."""
    trainers = []
    for index in range(len(shards)):
        graph, x, y, loss = build_mlp(seed=index)
        trainers.append(make_trainer(index, graph, x, y, loss))
    try:
        with futures.ThreadPoolExecutor(len(trainers)) as pool:
            jobs = [
                pool.submit(trainer.train_and_eval, {"x": features}, labels)
                for trainer, (features, labels) in zip(trainers, shards, strict=True)
            ]
            for job in jobs:
                job.result(timeout=WAIT_SECONDS)
    finally:
        for trainer in trainers:
            trainer.close()
    return trainers


def trainer_kargs(optimizer_name, graph, x, y, loss):
    optimizer = OPTIMIZERS[optimizer_name](graph, loss)
    return dict(
        input_x=[x], input_y=y, loss_op=loss, optimizer=optimizer, epoches=EPOCHES, batch_size=BATCH_SIZE,
        shuffle=False, verbose=False,
    )  # fmt: skip


def ring_trainer(optimizer_name, addresses, timeout=10.0, **checkpoint_kargs):
    def make(index, graph, x, y, loss):
        return recording(DistTrainerRingAllReduce)(
            **trainer_kargs(optimizer_name, graph, x, y, loss),
            cluster_conf={"workers": addresses},
            worker_index=index,
            timeout=timeout,
            **checkpoint_kargs,
        )

    return make


@contextlib.contextmanager
def parameter_servers(count, num_workers):
    servers = [ParameterServer(num_workers) for _ in range(count)]
    try:
        yield [server.start() for server in servers]
    finally:
        for server in servers:
            server.stop()


def ps_trainer(optimizer_name, ps_addresses, num_workers, timeout=10.0, **checkpoint_kargs):
    workers = [f"worker-{index}" for index in range(num_workers)]

    def make(index, graph, x, y, loss):
        return recording(DistTrainerParameterServer)(
            **trainer_kargs(optimizer_name, graph, x, y, loss),
            cluster_conf={"ps": ps_addresses, "workers": workers},
            worker_index=index,
            timeout=timeout,
            **checkpoint_kargs,
        )

    return make


def assert_matches_reference(trainers, expected):
    steps = len(expected)
    for trainer in trainers:
        assert len(trainer.snapshots) == steps, f"worker {trainer.worker_index} made {len(trainer.snapshots)} updates"
    for step in range(steps):
        first = trainers[0].snapshots[step]
        for trainer in trainers[1:]:
            for name, value in trainer.snapshots[step].items():
                # identical on every worker: same global mean, same optimizer state, same start
                np.testing.assert_array_equal(value, first[name], err_msg=f"step {step}, {name}")
        for name, value in expected[step].items():
            np.testing.assert_allclose(first[name], value, rtol=0, atol=1e-9, err_msg=f"step {step}, {name}")


def test_the_workers_start_from_different_weights():
    """Otherwise the weight sync at start-up would not be tested."""
    first, second = weights(build_mlp(0)[0]), weights(build_mlp(1)[0])
    assert any(not np.array_equal(first[name], second[name]) for name in first)


@pytest.mark.parametrize("optimizer_name", sorted(OPTIMIZERS))
@pytest.mark.parametrize("world_size", [2, 3])
def test_ring_allreduce_training_equals_one_process_on_the_union(world_size, optimizer_name):
    shards = [shard(index) for index in range(world_size)]
    addresses = free_loopback_addresses(world_size)
    trainers = run_workers(ring_trainer(optimizer_name, addresses), shards)
    expected = reference_weights(optimizer_name, shards, steps_per_epoch=3)
    assert_matches_reference(trainers, expected)


@pytest.mark.parametrize("optimizer_name", sorted(OPTIMIZERS))
@pytest.mark.parametrize("ps_count", [1, 2])
def test_synchronous_parameter_server_training_equals_one_process_on_the_union(ps_count, optimizer_name):
    shards = [shard(index) for index in range(2)]
    with parameter_servers(ps_count, num_workers=2) as ps_addresses:
        trainers = run_workers(ps_trainer(optimizer_name, ps_addresses, 2), shards)
    expected = reference_weights(optimizer_name, shards, steps_per_epoch=3)
    assert_matches_reference(trainers, expected)


@pytest.mark.parametrize("optimizer_name", ["Momentum", "Adam"])
@pytest.mark.parametrize("mode", ["ring", "ps"])
def test_three_workers_resume_a_checkpoint_with_its_optimizer_state_exactly(mode, optimizer_name, tmp_path):
    # The checkpoint of step 2 of the one-process run; only worker 0 reads it, the rest learn it at start-up.
    shards = [shard(index) for index in range(3)]
    graph, optimizer, _ = reference_run(optimizer_name, shards, steps_per_epoch=3, steps=2)
    Checkpoints(tmp_path, every=100).save(graph, 2, optimizer)
    checkpointing = {"checkpoint_dir": tmp_path, "checkpoint_every": 100}
    with contextlib.ExitStack() as stack:
        if mode == "ring":
            make = ring_trainer(optimizer_name, free_loopback_addresses(3), **checkpointing)
        else:
            make = ps_trainer(optimizer_name, stack.enter_context(parameter_servers(1, 3)), 3, **checkpointing)
        trainers = run_workers(make, shards)
    assert [trainer.resume_step for trainer in trainers] == [2, 2, 2]
    expected = reference_weights(optimizer_name, shards, steps_per_epoch=3)[2:]
    assert_matches_reference(trainers, expected)  # moments restored: steps 3.. as if never stopped


def checkpointed_loss(directory, shards):
    """The mean per-sample loss of the newest checkpoint's weights over every shard together."""
    graph, x, y, loss = build_mlp(seed=5)
    Checkpoints(directory, every=100).restore(graph)
    x.set_value(np.concatenate([features for features, _ in shards]).reshape(-1, FEATURES, 1))
    y.set_value(np.concatenate([labels for _, labels in shards]).reshape(-1, CLASSES, 1))
    return float(np.sum(loss.forward())) / sum(len(labels) for _, labels in shards)


def workers_with_checkpoints(mode, count, directory, stack, every=100):
    checkpointing = {"checkpoint_dir": directory, "checkpoint_every": every}
    if mode == "ring":
        return ring_trainer("Adam", free_loopback_addresses(count), **checkpointing)
    return ps_trainer("Adam", stack.enter_context(parameter_servers(1, count)), count, **checkpointing)


@pytest.mark.parametrize("mode", ["ring", "ps"])
def test_the_last_step_is_saved_and_final_loss_is_the_loss_of_the_final_weights_on_every_shard(mode, tmp_path):
    shards = [shard(index) for index in range(2)]
    with contextlib.ExitStack() as stack:  # 6 steps, a checkpoint every 4: 4, and 6 as the last
        trainers = run_workers(workers_with_checkpoints(mode, 2, tmp_path, stack, every=4), shards)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["step-000000004", "step-000000006"]
    saved = build_mlp(seed=5)[0]
    assert Checkpoints(tmp_path, every=4).restore(saved) == 6
    for name, value in weights(saved).items():
        np.testing.assert_array_equal(value, weights(trainers[0].optimizer.graph)[name])
    expected = checkpointed_loss(tmp_path, shards)
    for trainer in trainers:  # the same figure on every worker, though their shards differ
        assert trainer.final_loss == pytest.approx(expected, rel=1e-12)
        assert not trainer.already_finished


@pytest.mark.parametrize("mode", ["ring", "ps"])
def test_a_job_whose_checkpoint_is_at_its_last_step_makes_no_update(mode, tmp_path):
    shards = [shard(index) for index in range(3)]
    graph, optimizer, _ = reference_run("Adam", shards, steps_per_epoch=3)  # all 6 steps
    Checkpoints(tmp_path, every=100).save(graph, 6, optimizer)
    saved = {path: path.stat().st_mtime_ns for path in tmp_path.rglob("*")}
    with contextlib.ExitStack() as stack:
        trainers = run_workers(workers_with_checkpoints(mode, 3, tmp_path, stack), shards)
    for trainer in trainers:
        assert trainer.already_finished
        assert trainer.snapshots == []  # not one update
        assert (trainer.resume_step, trainer.global_step, trainer.last_step) == (6, 6, 6)
        assert trainer.history == []
        for name, value in weights(trainer.optimizer.graph).items():
            np.testing.assert_array_equal(value, weights(graph)[name])
        assert trainer.final_loss == pytest.approx(checkpointed_loss(tmp_path, shards), rel=1e-12)
    assert {path: path.stat().st_mtime_ns for path in tmp_path.rglob("*")} == saved  # nothing saved again


def build_tiny(seed):
    """A model with 3 weights: fewer than the start-up exchange has values for 3 workers (2 x 3 + 1)."""
    np.random.seed(seed)
    with ms.core.Graph() as graph:
        x = ms.Variable(dim=(FEATURES, 1), init=False, trainable=False, name="x")
        y = ms.Variable(dim=(CLASSES, 1), init=False, trainable=False, name="y")
        ones = ms.Variable(dim=(1, FEATURES), init=False, trainable=False, name="ones")
        ones.set_value(np.ones((1, FEATURES)))
        w = ms.Variable(dim=(CLASSES, 1), init=True, trainable=True, name="w")
        logits = ms.ops.MatMul(w, ms.ops.MatMul(ones, x))
        loss = ms.ops.loss.CrossEntropyWithSoftMax(logits, y)
    return graph, x, y, loss


def test_a_model_with_fewer_weights_than_the_start_up_exchange_still_trains_on_the_parameter_server(monkeypatch):
    monkeypatch.setitem(globals(), "build_mlp", build_tiny)  # run_workers and reference_weights build with it
    shards = [shard(index) for index in range(3)]
    with parameter_servers(1, num_workers=3) as ps_addresses:
        trainers = run_workers(ps_trainer("Adam", ps_addresses, 3), shards)
    assert_matches_reference(trainers, reference_weights("Adam", shards, steps_per_epoch=3))


def with_an_unused_trainable(build):
    """``build`` plus a trainable Variable the loss does not depend on."""

    def build_more(seed):
        graph, x, y, loss = build(seed)
        with graph:
            ms.Variable(dim=(2, 2), init=True, trainable=True, name="unused")
        return graph, x, y, loss

    return build_more


@pytest.mark.parametrize("mode", ["ring", "ps"])
def test_a_trainable_the_loss_does_not_reach_stays_put_while_the_rest_trains(mode, monkeypatch):
    build = with_an_unused_trainable(build_mlp)
    monkeypatch.setitem(globals(), "build_mlp", build)  # run_workers and reference_weights build with it
    initial_unused = weights(build(0)[0])["unused"]
    shards = [shard(index) for index in range(2)]
    with contextlib.ExitStack() as stack:
        if mode == "ring":
            make = ring_trainer("Adam", free_loopback_addresses(2))
        else:
            make = ps_trainer("Adam", stack.enter_context(parameter_servers(1, num_workers=2)), 2)
        trainers = run_workers(make, shards)
    expected = reference_weights("Adam", shards, steps_per_epoch=3)
    assert_matches_reference(trainers, expected)
    np.testing.assert_array_equal(trainers[1].snapshots[-1]["unused"], initial_unused)  # worker 0's, untouched


def test_ring_workers_with_different_steps_per_epoch_all_fail_clearly():
    shards = [shard(0, size=10), shard(1, size=14)]  # 3 and 4 steps of 4 samples
    addresses = free_loopback_addresses(2)
    with pytest.raises(ValueError, match=r"different numbers of steps per epoch \[3, 4\]"):
        run_workers(ring_trainer("GradientDescent", addresses, timeout=5.0), shards)


def test_parameter_server_workers_with_different_steps_per_epoch_all_fail_clearly():
    shards = [shard(0, size=10), shard(1, size=14), shard(2, size=10)]
    with parameter_servers(2, num_workers=3) as ps_addresses:
        make = ps_trainer("GradientDescent", ps_addresses, 3, timeout=5.0)
        trainers = []
        for index in range(3):
            graph, x, y, loss = build_mlp(seed=index)
            trainers.append(make(index, graph, x, y, loss))
        errors = []
        with futures.ThreadPoolExecutor(3) as pool:
            jobs = [
                pool.submit(trainer.train_and_eval, {"x": features}, labels)
                for trainer, (features, labels) in zip(trainers, shards, strict=True)
            ]
            for job in jobs:
                errors.append(job.exception(timeout=WAIT_SECONDS))
        for trainer in trainers:
            trainer.close()
    for error in errors:
        assert isinstance(error, ValueError), f"every worker must fail clearly, got {error!r}"
        assert "[3, 4, 3]" in str(error)


@pytest.mark.parametrize("trainer_class", [DistTrainerRingAllReduce, DistTrainerParameterServer])
def test_a_worker_index_outside_the_cluster_is_refused(trainer_class):
    kargs = trainer_kargs("GradientDescent", *build_mlp(seed=0))
    cluster_conf = {"ps": ["127.0.0.1:1"], "workers": ["127.0.0.1:2", "127.0.0.1:3"]}
    with pytest.raises(ValueError, match=r"worker_index 2 is outside cluster_conf\['workers'\]"):
        trainer_class(**kargs, cluster_conf=cluster_conf, worker_index=2)


def test_a_ring_worker_whose_neighbour_never_starts_fails_within_its_timeout():
    addresses = free_loopback_addresses(2)
    trainer = ring_trainer("GradientDescent", addresses, timeout=1.0)(0, *build_mlp(seed=0))
    features, labels = shard(0)
    started = time.monotonic()
    try:
        with pytest.raises(RingTimeoutError, match=re.escape(addresses[1])):
            trainer.train_and_eval({"x": features}, labels)
    finally:
        trainer.close()
    assert time.monotonic() - started < 5


def test_a_parameter_server_worker_waits_for_worker_0_only_up_to_its_timeout():
    with parameter_servers(1, num_workers=2) as ps_addresses:
        trainer = ps_trainer("GradientDescent", ps_addresses, 2, timeout=1.0)(1, *build_mlp(seed=1))
        features, labels = shard(1)
        started = time.monotonic()
        try:
            with pytest.raises(TimeoutError, match="no weights from worker 0"):
                trainer.train_and_eval({"x": features}, labels)
        finally:
            trainer.close()
    assert time.monotonic() - started < 5
