"""Checkpoints: worker 0 saves every K steps, the newest few are kept, a restart resumes exactly."""

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import matrixslow as ms
from matrixslow.dist.checkpoint import Checkpoints, OptimizerMismatchError

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "distributed" / "dist_mlp.py"
RUN_TIMEOUT_SECONDS = 60


def small_graph(seed):
    return small_model(seed)[0]


def small_model(seed):
    """(graph, loss) of a 3-2 linear layer with a squared-error loss."""
    np.random.seed(seed)
    with ms.core.Graph() as graph:
        x = ms.Variable(dim=(3, 1), init=False, trainable=False, name="x")
        x.set_value(np.arange(3.0).reshape(3, 1))
        output = ms.layer.fc(x, 3, 2, None)
        loss = ms.ops.Sum(ms.ops.Multiply(output, output))
    return graph, loss


def trained_adam(seed, steps):
    graph, loss = small_model(seed)
    adam = ms.optimizer.Adam(graph, loss, learning_rate=0.1)
    for _ in range(steps):
        adam.one_step()
        adam.update()
    return graph, adam


def weights(graph):
    return {node.name: node.value.copy() for node in graph.nodes if getattr(node, "trainable", False)}


def assert_same_weights(graph, expected_graph):
    expected = weights(expected_graph)
    assert sorted(weights(graph)) == sorted(expected)
    for name, value in weights(graph).items():
        np.testing.assert_array_equal(value, expected[name])


def test_due_every_k_steps_and_never_at_step_0():
    checkpoints = Checkpoints("unused", every=3)
    assert [step for step in range(10) if checkpoints.due(step)] == [3, 6, 9]


def test_restore_loads_the_newest_checkpoint_and_returns_its_step(tmp_path):
    checkpoints = Checkpoints(tmp_path, every=1)
    saved = small_graph(seed=1)
    checkpoints.save(small_graph(seed=0), 4)
    checkpoints.save(saved, 8)
    target = small_graph(seed=2)
    assert checkpoints.restore(target) == 8
    assert_same_weights(target, saved)


def test_only_the_newest_checkpoints_are_kept(tmp_path):
    checkpoints = Checkpoints(tmp_path, every=1, keep=2)
    for step in (1, 2, 3, 4):
        checkpoints.save(small_graph(seed=step), step)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["step-000000003", "step-000000004"]


def test_a_checkpoint_cut_short_is_skipped_for_the_one_before(tmp_path):
    checkpoints = Checkpoints(tmp_path, every=1)
    good = small_graph(seed=1)
    checkpoints.save(good, 5)
    checkpoints.save(small_graph(seed=2), 6)
    (tmp_path / "step-000000006" / "weights.npz").write_bytes(b"cut short")
    target = small_graph(seed=3)
    assert checkpoints.restore(target) == 5
    assert_same_weights(target, good)


def test_the_optimizer_state_is_saved_and_restored_with_the_weights(tmp_path):
    checkpoints = Checkpoints(tmp_path, every=1)
    graph, adam = trained_adam(seed=1, steps=3)
    checkpoints.save(graph, 3, adam)
    assert (tmp_path / "step-000000003" / "optimizer.npz").is_file()
    target_graph, target_adam = trained_adam(seed=2, steps=0)
    assert checkpoints.restore(target_graph, target_adam) == 3
    assert target_adam.t == 3
    restored = target_adam.state_arrays()
    for key, value in adam.state_arrays().items():
        np.testing.assert_array_equal(restored[key], value)
    assert_same_weights(target_graph, graph)


def test_optimizer_state_from_another_save_makes_the_checkpoint_skipped(tmp_path):
    checkpoints = Checkpoints(tmp_path, every=1)
    graph, adam = trained_adam(seed=1, steps=2)
    checkpoints.save(graph, 2, adam)
    later_graph, later_adam = trained_adam(seed=1, steps=4)
    checkpoints.save(later_graph, 4, later_adam)
    older = (tmp_path / "step-000000002" / "optimizer.npz").read_bytes()
    (tmp_path / "step-000000004" / "optimizer.npz").write_bytes(older)  # a torn save: not the file model.json names
    target_graph, target_adam = trained_adam(seed=2, steps=0)
    assert checkpoints.restore(target_graph, target_adam) == 2
    assert target_adam.t == 2


def test_resuming_with_another_kind_of_optimizer_is_refused_naming_both(tmp_path):
    checkpoints = Checkpoints(tmp_path, every=1)
    graph, adam = trained_adam(seed=1, steps=2)
    checkpoints.save(graph, 2, adam)
    target_graph, loss = small_model(seed=2)
    momentum = ms.optimizer.Momentum(target_graph, loss)
    with pytest.raises(OptimizerMismatchError, match=r"step-000000002: the checkpoint holds Adam state, not Momentum"):
        checkpoints.restore(target_graph, momentum)
    checkpoints.save(graph, 3)  # saved without an optimizer
    with pytest.raises(OptimizerMismatchError, match=r"step-000000003: the checkpoint holds no optimizer state"):
        checkpoints.restore(target_graph, adam)


def test_no_checkpoint_means_step_0_and_untouched_weights(tmp_path):
    target = small_graph(seed=3)
    before = weights(target)
    assert Checkpoints(tmp_path / "none", every=1).restore(target) == 0
    for name, value in before.items():
        np.testing.assert_array_equal(weights(target)[name], value)


def launch(mode, epochs, checkpoint_dir=None):
    args = [sys.executable, "-m", "matrixslow.dist.launch", "--mode", mode, "--workers", "2"]
    if mode == "ps":
        args += ["--ps", "1"]
    if checkpoint_dir is not None:
        args += ["--checkpoint-dir", str(checkpoint_dir), "--checkpoint-every", "4"]
    # Adam: a resumed run matches an unbroken one only if its moments and step count were restored too.
    args += [str(EXAMPLE), "--epochs", str(epochs), "--optimizer", "Adam"]
    result = subprocess.run(args, capture_output=True, text=True, timeout=RUN_TIMEOUT_SECONDS)
    assert result.returncode == 0, result.stdout + result.stderr
    digests = set(re.findall(r"^\[worker \d\] weights sha256 ([0-9a-f]{64})$", result.stdout, flags=re.MULTILINE))
    assert len(digests) == 1, result.stdout
    return result.stdout, digests.pop()


def test_a_restarted_job_resumes_from_the_last_checkpoint_and_ends_where_an_unbroken_run_ends(tmp_path):
    # 64 samples per worker in batches of 8: 8 steps per epoch, a checkpoint every 4.
    for mode in ("allreduce", "ps"):
        checkpoint_dir = tmp_path / mode
        first, _ = launch(mode, epochs=1, checkpoint_dir=checkpoint_dir)
        assert "trained to step 8" in first
        assert sorted(path.name for path in checkpoint_dir.iterdir()) == ["step-000000004", "step-000000008"]
        resumed, resumed_digest = launch(mode, epochs=2, checkpoint_dir=checkpoint_dir)
        assert "[worker 0] resumed from checkpoint step 8" in resumed
        assert "[worker 1] resumed from checkpoint step 8" in resumed  # worker 1 learnt it from worker 0
        _, unbroken_digest = launch(mode, epochs=2)
        assert resumed_digest == unbroken_digest, mode
