"""PyTorch twins of the book's four tasks (``book_tasks``): the same networks, written as a PyTorch user would.

Each twin is an ``nn.Module`` in float64 whose parameters are named as ``book_tasks`` lays out the
matrixslow weights, so ``TorchRun`` starts from exactly the matrixslow graph's weights and trains on
the same batches in the same order with ``torch.optim.Adam`` at matrixslow's settings. matrixslow's
ReLU is leaky (slope 0.1), and its max pooling centres a 3x3 window on every second pixel: with
padding 1 that is ``max_pool2d(3, 2, padding=1)``. ``nn.RNN`` has no leaky ReLU, so the RNN twin
loops over the steps itself. Importing this module needs torch (the ``compare`` extra).
"""

import os

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .book_tasks import CNN_KERNELS, LEARNING_RATE, RNN_HIDDEN, RNN_VALUES, TASKS, batch_order

SLOPE = 0.1  # matrixslow's ReLU
BETAS, EPSILON = (0.9, 0.99), 1e-8  # matrixslow's Adam defaults (the book's beta_2)


def numpy_threads():
    """The threads NumPy's BLAS runs on, for PyTorch to get as many: threadpoolctl's count, else OMP_NUM_THREADS."""
    try:
        from threadpoolctl import threadpool_info  # scikit-learn's dependency (the data extra)
    except ImportError:
        return int(os.environ.get("OMP_NUM_THREADS") or os.cpu_count() or 1)
    torch_folder = os.path.dirname(torch.__file__)
    counts = [
        info["num_threads"]
        for info in threadpool_info()
        if info.get("user_api") == "blas" and not info.get("filepath", "").startswith(torch_folder)
    ]
    return max(counts) if counts else int(os.environ.get("OMP_NUM_THREADS") or os.cpu_count() or 1)


class LogisticRegression(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(30, 1)

    def forward(self, x):
        return self.linear(x)[:, 0]


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden, self.output = nn.Linear(64, 64), nn.Linear(64, 10)

    def forward(self, x):
        return self.output(F.leaky_relu(self.hidden(x), SLOPE))


class CNN(nn.Module):
    """Two convolutions ("same" padding) with leaky ReLU and max pooling: 8x8 -> 4x4 -> 2x2, then fc 12-120-10."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, CNN_KERNELS, 5, padding=2)
        self.conv2 = nn.Conv2d(CNN_KERNELS, CNN_KERNELS, 3, padding=1)
        self.fc1, self.output = nn.Linear(4 * CNN_KERNELS, 120), nn.Linear(120, 10)

    def forward(self, images):
        maps = images[:, None]  # one input channel
        for conv in (self.conv1, self.conv2):
            maps = F.max_pool2d(F.leaky_relu(conv(maps), SLOPE), 3, stride=2, padding=1)
        # flatten kernel by kernel, row by row: matrixslow's Concat
        return self.output(F.leaky_relu(self.fc1(maps.flatten(1)), SLOPE))


class RNN(nn.Module):
    """h_1 = act(U x_0 + b), h_t = act(U x_{t-1} + W h_{t-1} + b); fc 40, fc 10 (leaky ReLU) and 2 outputs on h_T."""

    def __init__(self):
        super().__init__()
        self.u = nn.Parameter(torch.empty(RNN_HIDDEN, RNN_VALUES))
        self.w = nn.Parameter(torch.empty(RNN_HIDDEN, RNN_HIDDEN))
        self.b = nn.Parameter(torch.empty(RNN_HIDDEN))
        self.fc1, self.fc2, self.output = nn.Linear(RNN_HIDDEN, 40), nn.Linear(40, 10), nn.Linear(10, 2)

    def forward(self, sequences):
        hidden = F.leaky_relu(F.linear(sequences[:, 0], self.u, self.b), SLOPE)  # h_0 = 0: no W h term
        for step in range(1, sequences.shape[1]):
            hidden = F.leaky_relu(F.linear(sequences[:, step], self.u, self.b) + hidden @ self.w.T, SLOPE)
        return self.output(F.leaky_relu(self.fc2(F.leaky_relu(self.fc1(hidden), SLOPE)), SLOPE))


TWINS = {"logreg": LogisticRegression, "mlp": MLP, "cnn": CNN, "rnn": RNN}


class TorchRun:
    """The PyTorch twin of ``book_tasks.BookRun(task_name)``, from ``weights`` (``BookRun.torch_weights()``).

    ``step()`` trains on the next batch of the same order as matrixslow's, and returns the mean loss.
    """

    def __init__(self, task_name, weights, seed=0, learning_rate=LEARNING_RATE, threads=None):
        torch.set_num_threads(threads or numpy_threads())
        task = TASKS[task_name]
        self.model = TWINS[task_name]().to(torch.float64)
        missing = set(self.model.state_dict()) ^ set(weights)
        if missing:
            raise KeyError(f"TorchRun({task_name!r}): weights and twin differ in the parameters {sorted(missing)}")
        self.model.load_state_dict({name: torch.from_numpy(np.array(value)) for name, value in weights.items()})
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=learning_rate, betas=BETAS, eps=EPSILON)
        data = task.data()
        self.x = torch.from_numpy(np.ascontiguousarray(data.x, dtype=np.float64))
        # logistic regression takes 0/1 targets as floats, cross-entropy class numbers
        self.y = torch.from_numpy(data.y.astype(np.float64) if task.binary else data.y)
        self.loss_function = F.binary_cross_entropy_with_logits if task.binary else F.cross_entropy
        self.batches = torch.from_numpy(batch_order(task_name, seed))
        self.position = 0

    def step(self):
        rows = self.batches[self.position]
        self.position = (self.position + 1) % len(self.batches)
        self.optimizer.zero_grad()
        loss = self.loss_function(self.model(self.x[rows]), self.y[rows])
        loss.backward()
        self.optimizer.step()
        return loss.item()

    def weights(self):
        return {name: value.detach().numpy().copy() for name, value in self.model.state_dict().items()}
