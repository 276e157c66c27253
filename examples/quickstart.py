"""Quick start: train a small MLP on two interleaved half-moons, the book's way, in mini-batches.

Run: python examples/quickstart.py
"""

import numpy as np

import matrixslow as ms


def two_moons(n, rng, noise=0.1):
    """Two interleaved half circles in 2-D, labels 0 and 1 (generated here: nothing is downloaded)."""
    angle = rng.uniform(0.0, np.pi, n)
    label = rng.integers(0, 2, n)
    points = np.stack([np.cos(angle), np.sin(angle)], axis=1)
    points[label == 1] = 1.0 - points[label == 1] + np.array([0.0, -0.5])
    return points + rng.normal(0.0, noise, points.shape), label


rng = np.random.default_rng(42)
np.random.seed(42)  # the weights' initialisation uses NumPy's global generator
train_x, train_y = two_moons(1000, rng)
test_x, test_y = two_moons(500, rng)

# The graph: one sample is a 2x1 column; the same graph takes a batch of them.
x = ms.core.Variable(dim=(2, 1), init=False, trainable=False)
one_hot = ms.core.Variable(dim=(2, 1), init=False, trainable=False)
with ms.name_scope("Hidden"):
    hidden = ms.layer.fc(x, 2, 16, "ReLU")
    hidden = ms.layer.fc(hidden, 16, 16, "ReLU")
with ms.name_scope("Output"):
    logits = ms.layer.fc(hidden, 16, 2, None)
predict = ms.ops.SoftMax(logits)
loss = ms.ops.loss.CrossEntropyWithSoftMax(logits, one_hot)
optimizer = ms.optimizer.Adam(ms.default_graph, loss, 0.02)

batch_size = 32
for epoch in range(30):
    order = rng.permutation(len(train_x))
    for start in range(0, len(order), batch_size):
        batch = order[start : start + batch_size]
        x.set_value(train_x[batch][:, :, None])  # (B, 2, 1): a batch of 2x1 matrices
        one_hot.set_value(np.eye(2)[train_y[batch]][:, :, None])
        optimizer.one_step()  # forward and backward for the whole batch
        optimizer.update()  # one step with the mean gradient

    x.set_value(test_x[:, :, None])
    predict.forward()
    accuracy = np.mean(predict.value[:, :, 0].argmax(axis=1) == test_y)
    if (epoch + 1) % 10 == 0:
        print(f"epoch {epoch + 1:2d}  test accuracy {accuracy:.3f}")
