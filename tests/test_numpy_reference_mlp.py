"""The benchmark's plain-NumPy MLP and the matrixslow MLP do exactly the same training step.

Without this, a benchmark ratio could compare unequal work.
"""

import numpy as np
import pytest

import matrixslow as ms
from benchmark.numpy_mlp import NumpyMLP

# float32: the two sum in different orders, so the last bits differ (measured: 6e-8 in the weights)
TOLERANCE = {np.float64: dict(loss=1e-12, rtol=1e-10, atol=1e-12), np.float32: dict(loss=1e-6, rtol=1e-5, atol=1e-6)}


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
def test_numpy_reference_and_matrixslow_train_identically(dtype):
    sizes, batch = (12, 8, 6, 4), 16
    rng = np.random.default_rng(3)
    reference = NumpyMLP(sizes, rng, dtype=dtype, learning_rate=0.01)
    x_rows = rng.normal(size=(batch, sizes[0])).astype(dtype)
    one_hot = np.eye(sizes[-1], dtype=dtype)[rng.integers(0, sizes[-1], batch)]
    tolerance = TOLERANCE[dtype]

    with ms.core.Graph(dtype=dtype) as graph:
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
        assert np.isclose(loss.value.mean(), reference_loss, rtol=tolerance["loss"])
        optimizer.update()
    for variable, w in zip(weights, reference.weights, strict=True):
        assert w.dtype == variable.value.dtype == dtype, f"{variable.name}: reference {w.dtype}"
        np.testing.assert_allclose(variable.value, w.T, rtol=tolerance["rtol"], atol=tolerance["atol"])
