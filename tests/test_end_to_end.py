"""Whole programs: a small MLP learns a non-linear problem, and the issue's snippet runs as written."""

import subprocess
import sys
import textwrap

import numpy as np

import matrixslow as ms
from tests.support import as_columns, one_hot, two_circles


def _accuracy(x, predict, points, labels):
    x.set_value(as_columns(points))
    return np.mean(predict.forward()[:, :, 0].argmax(axis=1) == labels)


def test_an_mlp_trained_in_mini_batches_separates_two_circles(graph):
    rng = np.random.default_rng(0)
    train_points, train_labels = two_circles(600, rng)
    test_points, test_labels = two_circles(300, rng)

    x = ms.Variable(dim=(2, 1), init=False, trainable=False)
    label = ms.Variable(dim=(2, 1), init=False, trainable=False)
    with ms.name_scope("Hidden"):
        hidden = ms.layer.fc(ms.layer.fc(x, 2, 16, "ReLU"), 16, 16, "ReLU")
    with ms.name_scope("Output"):
        logits = ms.layer.fc(hidden, 16, 2, None)
    predict = ms.ops.SoftMax(logits)
    loss = ms.ops.loss.CrossEntropyWithSoftMax(logits, label)
    optimizer = ms.optimizer.Adam(graph, loss, 0.02)

    chance = _accuracy(x, predict, train_points, train_labels)
    losses = []
    for _ in range(25):
        order = rng.permutation(len(train_points))
        epoch_loss = 0.0
        for start in range(0, len(order), 32):
            batch = order[start : start + 32]
            x.set_value(as_columns(train_points[batch]))
            label.set_value(as_columns(one_hot(train_labels[batch], 2)))
            optimizer.one_step()
            epoch_loss += loss.value.sum()
            optimizer.update()
        losses.append(epoch_loss / len(order))

    assert losses[-1] < 0.5 * losses[0]
    assert _accuracy(x, predict, train_points, train_labels) > 0.95
    assert _accuracy(x, predict, test_points, test_labels) > 0.95
    assert chance < 0.9, "the problem must not be solved before training"


def test_the_two_circles_are_not_linearly_separable():
    """A least-squares linear classifier cannot reach the accuracy the MLP must reach."""
    points, labels = two_circles(600, np.random.default_rng(0))
    design = np.hstack([points, np.ones((len(points), 1))])
    weights, *_ = np.linalg.lstsq(design, 2.0 * labels - 1.0, rcond=None)
    assert np.mean((design @ weights > 0) == labels) < 0.8


ISSUE_SNIPPET = """
import numpy as np
import matrixslow as ms

rng = np.random.default_rng(0)
sample_4x1 = rng.normal(size=(4, 1))
label_3x1 = np.eye(3)[:, [1]]
batch_Bx4x1 = rng.normal(size=(8, 4, 1))
labels_Bx3x1 = np.eye(3)[rng.integers(0, 3, 8)][:, :, None]

x = ms.core.Variable(dim=(4, 1), init=False, trainable=False)
one_hot = ms.core.Variable(dim=(3, 1), init=False, trainable=False)
h = ms.layer.fc(x, 4, 10, "ReLU")
out = ms.layer.fc(h, 10, 3, None)
loss = ms.ops.loss.CrossEntropyWithSoftMax(out, one_hot)
opt = ms.optimizer.Adam(ms.default_graph, loss, 0.02)
x.set_value(sample_4x1); one_hot.set_value(label_3x1); opt.one_step()   # one sample
x.set_value(batch_Bx4x1); one_hot.set_value(labels_Bx3x1); opt.one_step() # a whole batch at once

weights = ms.core.get_trainable_variables_from_graph()
before = [w.value.copy() for w in weights]
assert opt.acc_no == 9, opt.acc_no
opt.update()
moved = [not np.array_equal(w.value, b) for w, b in zip(weights, before)]
assert all(moved), moved
# Adam's first step moves every weight with a gradient by about the learning rate.
steps = np.concatenate([np.abs(w.value - b).ravel() for w, b in zip(weights, before)])
assert np.all(steps < 0.02 * 1.0001), steps.max()
print("issue snippet ok", opt.acc_no)
"""


def test_the_issue_snippet_runs_verbatim_on_the_global_default_graph():
    # In a subprocess: the snippet builds into ms.default_graph, which the other tests must not share.
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(ISSUE_SNIPPET)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "issue snippet ok 0"
