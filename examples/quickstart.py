"""Quick start: a small MLP learns two interleaved half-moons, the book's way, in mini-batches.

Shows the engine without the trainer: a graph of Variables, fc layers and a loss,
an optimizer, and a loop that feeds one batch at a time.

Run: python examples/quickstart.py [--epochs 30] [--quiet]
"""

import argparse

import numpy as np

import matrixslow as ms


def two_moons(n, rng, noise=0.1):
    """Two interleaved half circles in 2-D, labels 0 and 1 (generated here: nothing is downloaded)."""
    angle = rng.uniform(0.0, np.pi, n)
    label = rng.integers(0, 2, n)
    points = np.stack([np.cos(angle), np.sin(angle)], axis=1)
    points[label == 1] = 1.0 - points[label == 1] + np.array([0.0, -0.5])
    return points + rng.normal(0.0, noise, points.shape), label


def parse_args(argv):
    parser = argparse.ArgumentParser(description="A 2-16-16-2 MLP on two half-moons.")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=42, help="seeds the data, the weights and the shuffling")
    parser.add_argument("--quiet", action="store_true", help="only the final line")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    rng = np.random.default_rng(args.seed)
    np.random.seed(args.seed)  # the weights' initialisation uses NumPy's global generator
    train_x, train_y = two_moons(1000, rng)
    test_x, test_y = two_moons(500, rng)

    with ms.core.Graph() as graph:
        # One sample is a 2x1 column; the same graph takes a batch of them.
        x = ms.core.Variable(dim=(2, 1), init=False, trainable=False)
        one_hot = ms.core.Variable(dim=(2, 1), init=False, trainable=False)
        with ms.name_scope("Hidden"):
            hidden = ms.layer.fc(x, 2, 16, "ReLU")
            hidden = ms.layer.fc(hidden, 16, 16, "ReLU")
        with ms.name_scope("Output"):
            logits = ms.layer.fc(hidden, 16, 2, None)
        predict = ms.ops.SoftMax(logits)
        loss = ms.ops.loss.CrossEntropyWithSoftMax(logits, one_hot)
        optimizer = ms.optimizer.Adam(graph, loss, 0.02)

    for epoch in range(args.epochs):
        order = rng.permutation(len(train_x))
        for start in range(0, len(order), args.batch_size):
            batch = order[start : start + args.batch_size]
            x.set_value(train_x[batch][:, :, None])  # (B, 2, 1): a batch of 2x1 matrices
            one_hot.set_value(np.eye(2)[train_y[batch]][:, :, None])
            optimizer.one_step()  # forward and backward for the whole batch
            optimizer.update()  # one step with the mean gradient

        x.set_value(test_x[:, :, None])
        predict.forward()
        accuracy = float(np.mean(predict.value[:, :, 0].argmax(axis=1) == test_y))
        if not args.quiet and (epoch + 1) % 10 == 0:
            print(f"epoch {epoch + 1:2d}  test accuracy {accuracy:.3f}")
    print(f"test accuracy: {accuracy:.4f}")
    return {"accuracy": accuracy}


if __name__ == "__main__":
    main()
