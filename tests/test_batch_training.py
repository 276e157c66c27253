"""Training on a batch is training on its samples: same losses, same mean gradient, same weights.

For an MLP and for a small CNN, a batch of B samples fed at once must give the
per-sample losses of B single-sample runs, the optimizer's accumulated mean
gradient (acc_gradient / acc_no) must be the mean of the per-sample gradients,
and after ``update()`` the weights must be identical, in float64, to those
trained one sample at a time.
"""

import numpy as np
import pytest

import matrixslow as ms
from matrixslow.core import Variable

ROUNDS, BATCH = 3, 6


def build_mlp():
    x = Variable((4, 1), trainable=False)
    label = Variable((3, 1), trainable=False)
    hidden = ms.layer.fc(ms.layer.fc(x, 4, 8, "ReLU"), 8, 8, "ReLU")
    logits = ms.layer.fc(hidden, 8, 3, None)
    return x, label, ms.ops.loss.CrossEntropyWithSoftMax(logits, label)


def build_cnn():
    x = Variable((6, 6), trainable=False)
    label = Variable((3, 1), trainable=False)
    maps = ms.layer.conv([x], (6, 6), 2, (3, 3), "ReLU")
    maps = ms.layer.conv(maps, (6, 6), 2, (3, 3), "Tanh")
    pooled = ms.layer.pooling(maps, (2, 2), (2, 2))
    logits = ms.layer.fc(ms.ops.Concat(*pooled), 18, 3, None)
    return x, label, ms.ops.loss.CrossEntropyWithSoftMax(logits, label)


MODELS = [pytest.param(build_mlp, (4, 1), id="MLP"), pytest.param(build_cnn, (6, 6), id="CNN")]


def _data(rng, input_shape, count):
    return rng.normal(size=(count, *input_shape)), np.eye(3)[rng.integers(0, 3, count)][:, :, None]


@pytest.mark.parametrize(("build", "input_shape"), MODELS)
def test_batched_values_and_mean_gradient_equal_the_per_sample_ones(graph, build, input_shape):
    x, label, loss = build()
    inputs, labels = _data(np.random.default_rng(0), input_shape, BATCH)
    trainables = ms.core.get_trainable_variables_from_graph()

    single_losses, single_grads = [], []
    for i in range(BATCH):
        x.set_value(inputs[i])
        label.set_value(labels[i])
        grads = ms.core.backward(loss)
        single_losses.append(loss.value.copy())
        single_grads.append({node: grads[node].copy() for node in trainables})

    optimizer = ms.optimizer.GradientDescent(graph, loss, 0.1)
    x.set_value(inputs)
    label.set_value(labels)
    optimizer.one_step()

    assert loss.value.shape == (BATCH, 1, 1)
    np.testing.assert_allclose(loss.value, np.stack(single_losses), rtol=1e-12)
    assert optimizer.acc_no == BATCH
    for node in trainables:
        mean = sum(grads[node] for grads in single_grads) / BATCH
        np.testing.assert_allclose(optimizer.acc_gradient[node] / optimizer.acc_no, mean, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("optimizer_type", [ms.optimizer.GradientDescent, ms.optimizer.Adam])
@pytest.mark.parametrize(("build", "input_shape"), MODELS)
def test_weights_trained_per_sample_or_batched_are_identical(graph, build, input_shape, optimizer_type):
    x, label, loss = build()
    rng = np.random.default_rng(1)
    batches = [_data(rng, input_shape, BATCH) for _ in range(ROUNDS)]
    trainables = ms.core.get_trainable_variables_from_graph()
    initial = [node.value.copy() for node in trainables]

    def train(batched):
        for node, value in zip(trainables, initial, strict=True):
            node.set_value(value)
        optimizer = optimizer_type(graph, loss, 0.05)
        for inputs, labels in batches:
            if batched:
                x.set_value(inputs)
                label.set_value(labels)
                optimizer.one_step()
            else:
                for sample, sample_label in zip(inputs, labels, strict=True):
                    x.set_value(sample)
                    label.set_value(sample_label)
                    optimizer.one_step()
            assert optimizer.acc_no == BATCH
            optimizer.update()
        return [node.value.copy() for node in trainables]

    per_sample, batched = train(batched=False), train(batched=True)
    for index, (a, b, start) in enumerate(zip(per_sample, batched, initial, strict=True)):
        assert not np.array_equal(a, start), f"variable {index} did not train"
        np.testing.assert_allclose(b, a, rtol=1e-10, atol=1e-13, err_msg=f"variable {index}")


def test_a_sample_and_a_batch_accumulate_together(graph):
    x, label, loss = build_mlp()
    inputs, labels = _data(np.random.default_rng(2), (4, 1), 5)
    trainables = ms.core.get_trainable_variables_from_graph()
    optimizer = ms.optimizer.Adam(graph, loss, 0.01)
    x.set_value(inputs[0])
    label.set_value(labels[0])
    optimizer.one_step()
    x.set_value(inputs[1:])
    label.set_value(labels[1:])
    optimizer.one_step()
    assert optimizer.acc_no == 5

    reference = ms.optimizer.Adam(graph, loss, 0.01)
    x.set_value(inputs)
    label.set_value(labels)
    reference.one_step()
    for node in trainables:
        np.testing.assert_allclose(optimizer.get_gradient(node), reference.get_gradient(node), rtol=1e-10, atol=1e-14)
