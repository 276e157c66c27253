"""Optimizers update in place: the same numbers as the out-of-place formulas, bit for bit, and no one's array written.

The references below are the rules as they were written before the update went in place
(a new array per step, set with ``set_value``), run through the old ``update`` loop.
"""

import tracemalloc

import numpy as np
import pytest

import matrixslow as ms
from matrixslow.core import Graph, Variable
from matrixslow.ops.loss import CrossEntropyWithSoftMax

STEPS = 300


class OutOfPlace:
    """The old update loop: each rule returns a new value, and ``set_value`` stores it."""

    def update(self):
        self.before_update()
        for node in self.acc_gradient:
            node.set_value(self._new_value(node, self.get_gradient(node)))
        self.acc_gradient.clear()
        self.acc_no = 0


class GradientDescentReference(OutOfPlace, ms.optimizer.GradientDescent):
    def _new_value(self, node, gradient):
        return node.value - self.learning_rate * gradient


class MomentumReference(OutOfPlace, ms.optimizer.Momentum):
    def _new_value(self, node, gradient):
        velocity = self.learning_rate * gradient
        if node in self.v:
            velocity += self.momentum * self.v[node]
        self.v[node] = velocity
        return node.value - velocity


class AdaGradReference(OutOfPlace, ms.optimizer.AdaGrad):
    def _new_value(self, node, gradient):
        self.s[node] = self.s.get(node, 0.0) + gradient**2
        return node.value - self.learning_rate * gradient / (np.sqrt(self.s[node]) + self.epsilon)


class RMSPropReference(OutOfPlace, ms.optimizer.RMSProp):
    def _new_value(self, node, gradient):
        self.s[node] = self.beta * self.s.get(node, 0.0) + (1.0 - self.beta) * gradient**2
        return node.value - self.learning_rate * gradient / (np.sqrt(self.s[node]) + self.epsilon)


class AdamReference(OutOfPlace, ms.optimizer.Adam):
    def _new_value(self, node, gradient):
        self.v[node] = self.beta_1 * self.v.get(node, 0.0) + (1.0 - self.beta_1) * gradient
        self.s[node] = self.beta_2 * self.s.get(node, 0.0) + (1.0 - self.beta_2) * gradient**2
        mean, second_moment = self.v[node], self.s[node]
        if self.bias_correction:
            mean, second_moment = mean / (1.0 - self.beta_1**self.t), second_moment / (1.0 - self.beta_2**self.t)
        if self.epsilon_root:
            second_moment = second_moment + self.epsilon_root
        return node.value - self.learning_rate * mean / (np.sqrt(second_moment) + self.epsilon)


KINDS = [
    pytest.param(ms.optimizer.GradientDescent, GradientDescentReference, {"learning_rate": 0.05}, id="SGD"),
    pytest.param(ms.optimizer.Momentum, MomentumReference, {"learning_rate": 0.05, "momentum": 0.7}, id="Momentum"),
    pytest.param(ms.optimizer.AdaGrad, AdaGradReference, {"learning_rate": 0.1}, id="AdaGrad"),
    pytest.param(ms.optimizer.RMSProp, RMSPropReference, {"learning_rate": 0.01, "beta": 0.8}, id="RMSProp"),
    pytest.param(ms.optimizer.Adam, AdamReference, {"learning_rate": 0.01}, id="Adam"),
    pytest.param(ms.optimizer.Adam, AdamReference, {"learning_rate": 0.01, **ms.optimizer.BOOK_ADAM}, id="Adam-book"),
    pytest.param(
        ms.optimizer.Adam, AdamReference, {"learning_rate": 0.01, "epsilon_root": 1e-6}, id="Adam-epsilon-root"
    ),
]


def mlp(dtype=None):
    """4 -> 6 (leaky ReLU) -> 3 with a softmax cross-entropy."""
    graph = Graph(dtype=dtype) if dtype else Graph()
    with graph:
        x = Variable((4, 1), trainable=False, name="x")
        label = Variable((3, 1), trainable=False, name="label")
        hidden = ms.layer.fc(x, 4, 6, "ReLU")
        loss = CrossEntropyWithSoftMax(ms.layer.fc(hidden, 6, 3, None), label)
    return graph, x, label, hidden, loss


def trainables(graph):
    return sorted(ms.core.get_trainable_variables_from_graph(graph=graph), key=lambda node: node.name)


def twin_models(dtype=None):
    """Two copies of the MLP with the same starting weights."""
    first, second = mlp(dtype), mlp(dtype)
    for mine, theirs in zip(trainables(first[0]), trainables(second[0]), strict=True):
        theirs.set_value(mine.value)
    return first, second


def batches(seed):
    """Batches of 1 (acc_no 1: no division) and of 3, and every fifth step two one_steps before the update.

    The first feature is always 0, so the first column of the first weights has zero gradients.
    """
    rng = np.random.default_rng(seed)
    for step in range(STEPS):
        size = 3 if step % 2 else 1
        parts = 2 if step % 5 == 4 else 1
        yield [(_samples(rng, size), np.eye(3)[rng.integers(0, 3, size)].reshape(size, 3, 1)) for _ in range(parts)]


def _samples(rng, size):
    samples = rng.normal(size=(size, 4, 1))
    samples[:, 0] = 0.0
    return samples


def train_step(model, optimizer, parts):
    _, x, label, _, _ = model
    for samples, labels in parts:
        x.set_value(samples)
        label.set_value(labels)
        optimizer.one_step()
    optimizer.update()


@pytest.mark.parametrize(("kind", "reference", "settings"), KINDS)
@pytest.mark.parametrize("dtype", [None, np.float32], ids=["float64", "float32"])
def test_hundreds_of_steps_give_the_out_of_place_weights_bit_for_bit(kind, reference, settings, dtype):
    engine_model, reference_model = twin_models(dtype)
    engine = kind(engine_model[0], engine_model[-1], **settings)
    expected = reference(reference_model[0], reference_model[-1], **settings)
    for step, parts in enumerate(batches(seed=3)):
        train_step(engine_model, engine, parts)
        train_step(reference_model, expected, parts)
        for mine, theirs in zip(trainables(engine_model[0]), trainables(reference_model[0]), strict=True):
            # Raw bytes, so that even the sign of a zero and a NaN's bits would have to agree.
            assert mine.value.dtype == theirs.value.dtype
            assert mine.value.tobytes() == theirs.value.tobytes(), f"{mine.name} differs after update {step + 1}"
        engine_state, expected_state = engine.state_arrays(), expected.state_arrays()
        assert engine_state.keys() == expected_state.keys()
        for key in engine_state:
            assert engine_state[key].tobytes() == expected_state[key].tobytes(), (
                f"optimizer state {key} differs after update {step + 1}"
            )


@pytest.mark.parametrize(("kind", "reference", "settings"), KINDS)
def test_gradients_given_from_outside_with_signed_zeros_give_the_same_bits(kind, reference, settings):
    """Gradient sums as the distributed trainers hand them in, with +0.0 and -0.0 among them."""
    optimizers = []
    for optimizer_type in (kind, reference):
        graph, _, _, _, loss = mlp()
        for index, node in enumerate(trainables(graph)):
            node.set_value(np.random.default_rng(index).normal(size=node.dim))
        optimizers.append(optimizer_type(graph, loss, **settings))
    rng = np.random.default_rng(8)
    for step in range(50):
        sums = {}
        for node in trainables(optimizers[0].graph):
            gradient = rng.normal(size=node.dim)
            gradient[rng.random(node.dim) < 0.3] = 0.0
            gradient[rng.random(node.dim) < 0.3] = -0.0
            sums[node.name] = gradient
        samples = 1 + step % 3
        for optimizer in optimizers:
            optimizer.apply_gradients(sums, acc_no=samples)
            optimizer.update()
        engine_state, expected_state = optimizers[0].state_arrays(), optimizers[1].state_arrays()
        for key in engine_state:
            assert engine_state[key].tobytes() == expected_state[key].tobytes(), f"{key} differs at step {step + 1}"
        for mine, theirs in zip(*(trainables(optimizer.graph) for optimizer in optimizers), strict=True):
            assert mine.value.tobytes() == theirs.value.tobytes(), f"{mine.name} differs at step {step + 1}"


@pytest.mark.parametrize(("kind", "reference", "settings"), KINDS)
def test_the_arrays_given_to_set_value_are_never_written(kind, reference, settings):
    graph, x, label, _, loss = mlp()
    given = {}
    for node in trainables(graph):
        mine = np.random.default_rng(len(given)).normal(size=node.dim)
        if len(given) % 2:
            mine.flags.writeable = False  # read-only arrays are fine too: the Variable trains its own copy
        node.set_value(mine)
        given[node.name] = (mine, mine.copy())
    optimizer = kind(graph, loss, **settings)
    for parts in list(batches(seed=4))[:20]:
        train_step((graph, x, label, None, loss), optimizer, parts)
    for node in trainables(graph):
        mine, original = given[node.name]
        np.testing.assert_array_equal(mine, original, err_msg=f"the caller's array for {node.name} was written")
        assert not np.array_equal(node.value, original), f"{node.name} did not train"


def test_an_array_put_into_value_directly_is_copied_once_then_trained_in_place(graph):
    _, x, label, _, loss = model = mlp()
    weights = trainables(model[0])[0]
    mine = np.ones(weights.dim)
    mine.flags.writeable = False
    weights.value = mine
    optimizer = ms.optimizer.Adam(model[0], loss, 0.01)
    parts = list(batches(seed=5))
    train_step(model, optimizer, parts[0])
    np.testing.assert_array_equal(mine, np.ones(weights.dim))
    own = weights.value
    assert own is not mine and own.flags.writeable
    train_step(model, optimizer, parts[1])
    assert weights.value is own, "after the one copy the Variable's own array is updated in place"


def test_an_update_forgets_the_values_computed_from_the_old_weights():
    _, x, label, hidden, loss = model = mlp()
    optimizer = ms.optimizer.GradientDescent(model[0], loss, 0.5)
    x.set_value(np.ones((4, 1)))
    label.set_value(np.eye(3)[:, [0]])
    optimizer.one_step()
    before = hidden.value.copy()
    optimizer.update()
    assert hidden.value is None and loss.value is None
    after = hidden.forward()
    w, b = trainables(model[0])[:2]  # the first layer's weights and bias, sorted by name
    assert w.value.shape == (6, 4) and b.value.shape == (6, 1)
    z = w.value @ np.ones((4, 1)) + b.value
    np.testing.assert_allclose(after, np.where(z > 0.0, z, 0.1 * z), rtol=1e-12)  # the book's leaky ReLU
    assert not np.array_equal(after, before)


def test_snapshots_of_the_state_do_not_follow_later_updates():
    model = mlp()
    optimizer = ms.optimizer.Adam(model[0], model[-1], 0.01)
    parts = list(batches(seed=6))
    train_step(model, optimizer, parts[0])
    state = optimizer.state_arrays()
    kept = {key: value.copy() for key, value in state.items()}
    train_step(model, optimizer, parts[1])
    for key, value in state.items():
        np.testing.assert_array_equal(value, kept[key], err_msg=f"state_arrays()[{key!r}] changed with an update")


def test_a_rule_that_returns_the_new_value_still_works():
    engine_model, reference_model = twin_models()

    class Returning(ms.optimizer.GradientDescent):
        def _update_one(self, node, gradient):
            return node.value - self.learning_rate * gradient

    engine = Returning(engine_model[0], engine_model[-1], 0.05)
    expected = GradientDescentReference(reference_model[0], reference_model[-1], 0.05)
    for parts in list(batches(seed=7))[:10]:
        train_step(engine_model, engine, parts)
        train_step(reference_model, expected, parts)
    for mine, theirs in zip(trainables(engine_model[0]), trainables(reference_model[0]), strict=True):
        np.testing.assert_array_equal(mine.value, theirs.value)


@pytest.mark.parametrize(("kind", "reference", "settings"), KINDS)
def test_an_update_allocates_no_array_the_size_of_a_weight(kind, reference, settings):
    with Graph() as graph:
        x = Variable((64, 1), trainable=False, name="x")
        label = Variable((64, 1), trainable=False, name="label")
        loss = CrossEntropyWithSoftMax(ms.layer.fc(x, 64, 64, None), label)
    optimizer = kind(graph, loss, **settings)
    x.set_value(np.ones((64, 1)))
    label.set_value(np.eye(64)[:, [1]])
    for _ in range(2):  # the first update makes the slots and the spare arrays
        optimizer.one_step()
        optimizer.update()
    optimizer.one_step()
    tracemalloc.start()
    try:
        optimizer.update()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    weight_bytes = 64 * 64 * 8
    assert peak < weight_bytes, f"{kind.__name__}.update() allocated {peak} bytes at its peak"
