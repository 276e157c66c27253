"""The benchmark's plain-NumPy MLP and the matrixslow MLP do exactly the same training step.

Without this, a benchmark ratio could compare unequal work.
"""

import numpy as np

import matrixslow as ms
from benchmark.numpy_mlp import NumpyMLP


def test_numpy_reference_and_matrixslow_train_identically():
    sizes, batch = (12, 8, 6, 4), 16
    rng = np.random.default_rng(3)
    reference = NumpyMLP(sizes, rng, learning_rate=0.01)
    x_rows = rng.normal(size=(batch, sizes[0]))
    one_hot = np.eye(sizes[-1])[rng.integers(0, sizes[-1], batch)]

    with ms.core.Graph() as graph:
        x = ms.Variable(dim=(sizes[0], 1), init=False, trainable=False)
        label = ms.Variable(dim=(sizes[-1], 1), init=False, trainable=False)
        node = x
        for i in range(len(sizes) - 1):
            node = ms.layer.fc(node, sizes[i], sizes[i + 1], "ReLU" if i < len(sizes) - 2 else None)
        loss = ms.ops.loss.CrossEntropyWithSoftMax(node, label)
        optimizer = ms.optimizer.Adam(graph, loss, 0.01)
    weights = [v for v in ms.core.get_trainable_variables_from_graph(graph=graph) if v.dim[1] != 1]
    biases = [v for v in ms.core.get_trainable_variables_from_graph(graph=graph) if v.dim[1] == 1]
    for variable, w in zip(weights, reference.weights, strict=True):
        variable.set_value(w.T)
    for variable, b in zip(biases, reference.biases, strict=True):
        variable.set_value(b[:, None])

    x.set_value(x_rows[:, :, None])
    label.set_value(one_hot[:, :, None])
    for _ in range(3):
        reference_loss = reference.step(x_rows, one_hot)
        optimizer.one_step()
        assert np.isclose(loss.value.mean(), reference_loss, rtol=1e-12)
        optimizer.update()
    for variable, w in zip(weights, reference.weights, strict=True):
        np.testing.assert_allclose(variable.value, w.T, rtol=1e-10, atol=1e-12)
