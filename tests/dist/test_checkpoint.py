"""Checkpoints: worker 0 saves every K steps and at the last, the newest few are kept, a restart resumes exactly."""

import re
import signal
import subprocess
import sys
import time
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


def test_the_last_step_is_due_whatever_every():
    checkpoints = Checkpoints("unused", every=3)
    assert [step for step in range(11) if checkpoints.due(step, last_step=10)] == [3, 6, 9, 10]


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


def launch_command(mode, epochs, checkpoint_dir=None, every=4, *script_args):
    args = [sys.executable, "-m", "matrixslow.dist.launch", "--mode", mode, "--workers", "2"]
    if mode == "ps":
        args += ["--ps", "1"]
    if checkpoint_dir is not None:
        args += ["--checkpoint-dir", str(checkpoint_dir), "--checkpoint-every", str(every)]
    # Adam: a resumed run matches an unbroken one only if its moments and step count were restored too.
    return args + [str(EXAMPLE), "--epochs", str(epochs), "--optimizer", "Adam", *script_args]


def launch(mode, epochs, checkpoint_dir=None, every=4):
    result = subprocess.run(
        launch_command(mode, epochs, checkpoint_dir, every), capture_output=True, text=True, timeout=RUN_TIMEOUT_SECONDS
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout, the_one(r"weights sha256 ([0-9a-f]{64})", result.stdout)


def the_one(pattern, output):
    """The one value ``pattern`` captures in every worker's lines (all workers print the same)."""
    values = set(re.findall(rf"^\[worker \d\] {pattern}$", output, flags=re.MULTILINE))
    assert len(values) == 1, output
    return values.pop()


def final_loss(output):
    return the_one(r"final loss (\S+)", output)


def checkpoint_files(directory):
    """Every file under ``directory`` with its bytes and modification time: what a save would change."""
    return {
        path.relative_to(directory): (path.read_bytes(), path.stat().st_mtime_ns)
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    }


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


@pytest.mark.parametrize("mode", ["allreduce", "ps"])
def test_a_rerun_of_a_finished_job_says_so_in_one_line_and_changes_nothing(mode, tmp_path):
    # 8 steps, a checkpoint every 3: 8 is saved because it is the last step.
    first, first_digest = launch(mode, epochs=1, checkpoint_dir=tmp_path, every=3)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["step-000000003", "step-000000006", "step-000000008"]
    saved = checkpoint_files(tmp_path)
    rerun, rerun_digest = launch(mode, epochs=1, checkpoint_dir=tmp_path, every=3)
    said = [line for line in rerun.splitlines() if "already finished" in line]
    assert said == [f"[worker 0] job already finished: {tmp_path} holds its last step, 8; nothing trained, "
                    "weights left as saved (more --epochs train on)"], rerun  # fmt: skip
    assert "trained to step" not in rerun and "resumed" not in rerun, rerun
    assert rerun_digest == first_digest
    assert checkpoint_files(tmp_path) == saved  # nothing saved again, nothing removed
    assert final_loss(rerun) == final_loss(first)


def test_a_rerun_with_fewer_epochs_than_the_checkpoint_trains_nothing_either(tmp_path):
    _, first_digest = launch("allreduce", epochs=2, checkpoint_dir=tmp_path)
    saved = checkpoint_files(tmp_path)
    rerun, rerun_digest = launch("allreduce", epochs=1, checkpoint_dir=tmp_path)
    assert f"job already finished: {tmp_path} holds step 16, past its last step 8; nothing trained" in rerun
    assert rerun_digest == first_digest
    assert checkpoint_files(tmp_path) == saved


def interrupt_after_first_checkpoint(mode, epochs, checkpoint_dir):
    """Start a slowed-down job, stop it (SIGINT to the launcher, as Ctrl-C) once a checkpoint is committed."""
    launcher = subprocess.Popen(
        launch_command(mode, epochs, checkpoint_dir, 4, "--step-delay", "0.1"),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        give_up_at = time.monotonic() + RUN_TIMEOUT_SECONDS
        while not (checkpoint_dir / "step-000000004" / "model.json").is_file():
            assert launcher.poll() is None and time.monotonic() < give_up_at, "no checkpoint before the job ended"
            time.sleep(0.05)
        launcher.send_signal(signal.SIGINT)
        output, _ = launcher.communicate(timeout=RUN_TIMEOUT_SECONDS)
    finally:
        if launcher.poll() is None:
            launcher.kill()
            launcher.wait()
    assert launcher.returncode == 130, output
    assert "trained to step" not in output, output  # stopped mid-training


@pytest.mark.parametrize("mode", ["allreduce", "ps"])
def test_an_interrupted_and_resumed_job_prints_the_final_loss_of_an_unbroken_one(mode, tmp_path):
    # 3 epochs of 8 steps at 0.1 s a step: the first checkpoint (step 4) comes long before the end (step 24).
    unbroken, unbroken_digest = launch(mode, epochs=3)
    interrupt_after_first_checkpoint(mode, 3, tmp_path)
    resumed, resumed_digest = launch(mode, epochs=3, checkpoint_dir=tmp_path)
    resumed_from = int(the_one(r"resumed from checkpoint step (\d+)", resumed))
    assert 4 <= resumed_from < 24
    assert resumed_digest == unbroken_digest
    assert final_loss(resumed) == final_loss(unbroken)
    assert "step-000000024" in {path.name for path in tmp_path.iterdir()}  # the last step is saved
