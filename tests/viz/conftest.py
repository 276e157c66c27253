"""A small MLP to draw, and a check that a file is the PNG a test expects."""

import numpy as np
import pytest

import matrixslow as ms

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
BATCH = 5


@pytest.fixture
def mlp(graph):
    """A 4-8-3 classifier with a cross-entropy loss, built in the test's graph; its inputs hold a batch.

    Returns ``(graph, loss, x)``; nothing is computed yet, so no node has a gradient.
    """
    x = ms.core.Variable((4, 1), init=False, trainable=False, name="x")
    label = ms.core.Variable((3, 1), init=False, trainable=False, name="label")
    with ms.name_scope("Hidden"):
        hidden = ms.layer.fc(x, 4, 8, "ReLU")
    logits = ms.layer.fc(hidden, 8, 3, None)
    loss = ms.ops.loss.CrossEntropyWithSoftMax(logits, label, name="loss")
    x.set_value(np.random.randn(BATCH, 4, 1))
    label.set_value(np.eye(3)[np.random.randint(0, 3, BATCH)][:, :, None])
    return graph, loss, x


def assert_png(path, width, height):
    """``path`` is a non-empty PNG file of ``width`` x ``height`` pixels."""
    import matplotlib.image

    data = path.read_bytes()
    assert len(data) > len(PNG_MAGIC)
    assert data.startswith(PNG_MAGIC), f"{path} is not a PNG: starts with {data[:8]!r}"
    pixels = matplotlib.image.imread(path)
    assert pixels.shape[:2] == (height, width)
