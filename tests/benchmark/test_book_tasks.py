"""The four tasks of the PyTorch comparison are the book's: its sizes, its per-kernel convolutions, its 96 steps.

No torch needed (tests/benchmark/test_torch_twins.py compares the twins and skips without it).
"""

import numpy as np
import pytest

import matrixslow as ms
from benchmark import book_tasks


def node_types(run):
    return [type(node).__name__ for node in run.graph.nodes]


def test_the_tasks_and_their_batch_sizes():
    assert {name: task.batch for name, task in book_tasks.TASKS.items()} == {
        "logreg": 16, "mlp": 32, "cnn": 32, "rnn": 16,
    }  # fmt: skip


def test_the_cnn_has_one_convolve_node_per_kernel_and_input_map():
    types = node_types(book_tasks.BookRun("cnn"))
    assert types.count("Convolve") == 3 * 1 + 3 * 3, "3 kernels over the image, then 3 over each of the 3 maps"
    assert types.count("MaxPooling") == 6


def test_the_rnn_is_unrolled_over_96_steps():
    run = book_tasks.BookRun("rnn")
    assert len(run.inputs) == 96 and all(node.dim == (16, 1) for node in run.inputs)
    assert node_types(run).count("MatMul") == 96 + 95 + 3, "U x_t every step, W h_t from the second, 3 fc layers"


@pytest.mark.parametrize("task_name", book_tasks.TASK_NAMES)
def test_an_epoch_is_full_batches_each_row_at_most_once(task_name):
    batches = book_tasks.batch_order(task_name)
    task = book_tasks.TASKS[task_name]
    rows = len(task.data().y)
    assert batches.shape == (rows // task.batch, task.batch)
    assert len(np.unique(batches)) == batches.size
    np.testing.assert_array_equal(batches, book_tasks.batch_order(task_name), err_msg="the same order every time")


@pytest.mark.parametrize("task_name", book_tasks.TASK_NAMES)
def test_torch_layout_holds_every_trainable_value_once(task_name):
    run = book_tasks.BookRun(task_name)
    values, layout = run.values(), run.torch_weights()
    assert sum(value.size for value in layout.values()) == sum(value.size for value in values)
    # every matrixslow value reappears in the layout: the sorted numbers are the same
    flat = [np.sort(np.concatenate([value.ravel() for value in group])) for group in (layout.values(), values)]
    np.testing.assert_array_equal(*flat)


def test_a_step_trains_in_float64():
    run = book_tasks.BookRun("logreg")
    before = run.values()
    losses = [run.step() for _ in range(3)]
    assert all(np.isfinite(losses))
    variables = ms.core.get_trainable_variables_from_graph(graph=run.graph)
    assert all(variable.value.dtype == np.float64 for variable in variables)
    assert not np.array_equal(before[0], run.values()[0])
