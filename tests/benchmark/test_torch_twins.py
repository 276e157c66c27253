"""Each PyTorch twin of the comparison does exactly matrixslow's training: same losses, same weights after Adam.

Without this the "matrixslow vs PyTorch CPU" table could compare unequal work. Both start from the
matrixslow graph's weights and train on the same batches in the same order, in float64; the losses
of every step and the weights after the last are compared to 1e-10. Needs torch (the ``compare``
extra, not the ``test`` one): without it this file skips.
"""

import numpy as np
import pytest

from benchmark import book_tasks

torch = pytest.importorskip("torch", reason="the compare extra (torch) is not installed")
from benchmark.torch_twins import TorchRun, numpy_threads  # noqa: E402  (needs torch)

STEPS = 3
TOLERANCE = dict(rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("task_name", book_tasks.TASK_NAMES)
def test_twin_trains_as_matrixslow_does(task_name):
    mine = book_tasks.BookRun(task_name, seed=3)
    start = mine.torch_weights()
    twin = TorchRun(task_name, start, seed=3)
    for step in range(STEPS):
        expected, got = mine.step(), twin.step()
        assert got == pytest.approx(expected, rel=1e-10), f"{task_name}: the loss of step {step}"
    trained, twin_trained = mine.torch_weights(), twin.weights()
    for name, value in trained.items():
        # Adam moves every weight by about the learning rate: an equal weight that did not move tests nothing
        assert np.abs(value - start[name]).max() > 1e-5, f"{task_name}: {name} did not train"
        np.testing.assert_allclose(twin_trained[name], value, **TOLERANCE, err_msg=f"{task_name}: {name}")


def test_both_walk_through_the_same_batches():
    mine, twin = book_tasks.BookRun("mlp"), TorchRun("mlp", book_tasks.BookRun("mlp").torch_weights())
    np.testing.assert_array_equal(twin.batches.numpy(), mine.batches)
    for _ in range(len(mine.batches) + 1):  # past the end both start the epoch again
        mine.step()
        twin.step()
    assert mine.position == twin.position == 1


def test_twin_refuses_weights_of_another_task():
    with pytest.raises(KeyError, match=r"TorchRun\('cnn'\).*conv1\.weight"):
        TorchRun("cnn", book_tasks.BookRun("mlp").torch_weights())


def test_torch_gets_as_many_threads_as_numpy():
    TorchRun("logreg", book_tasks.BookRun("logreg").torch_weights())
    assert torch.get_num_threads() == numpy_threads() >= 1
