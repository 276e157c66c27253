"""The book's four tasks, matrixslow beside PyTorch CPU: training samples/s in the same run.

Each task (``book_tasks``: logistic regression batch 16, MLP 64-64-10 and the book's CNN batch 32,
the 96-step RNN batch 16) has a matrixslow case and a PyTorch case in one benchmark group. Both
start from the same weights, train with Adam on the same batches in the same order, in float64,
and PyTorch gets as many threads as NumPy's BLAS (tox sets OMP_NUM_THREADS=2). A round is one
training step (forward, backward, update); samples/s = batch / median step.
tests/benchmark/test_torch_twins.py checks that both compute the same losses and weights.
Without torch (the ``compare`` extra) the PyTorch cases skip and the report says how to get them.
"""

import pytest

from . import book_tasks
from .timing import measure

INSTALL_HINT = "PyTorch is not installed: pip install -e '.[compare]', or run tox -e bench-compare"


def run_case(benchmark, task_name, engine, step, **extra):
    task = book_tasks.TASKS[task_name]
    benchmark.group = f"vs_torch[{task_name}, batch {task.batch}]"
    benchmark.extra_info.update(kind="vs_torch", model=task_name, title=task.title, batch=task.batch, engine=engine)
    benchmark.extra_info.update(extra)
    median = measure(benchmark, step)
    benchmark.extra_info["samples_per_second"] = task.batch / median


@pytest.mark.parametrize("task_name", book_tasks.TASK_NAMES)
def test_matrixslow(benchmark, task_name):
    run = book_tasks.BookRun(task_name)
    run_case(benchmark, task_name, "matrixslow", run.step)


@pytest.mark.parametrize("task_name", book_tasks.TASK_NAMES)
def test_torch(benchmark, task_name):
    torch = pytest.importorskip("torch", reason=INSTALL_HINT)
    from .torch_twins import TorchRun

    run = TorchRun(task_name, book_tasks.BookRun(task_name).torch_weights())
    run_case(benchmark, task_name, "torch", run.step, torch_version=torch.__version__, threads=torch.get_num_threads())
