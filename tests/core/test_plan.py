"""The compiled plan replays the interpreter: same values, gradients and errors, one plan per shape family."""

import numpy as np
import pytest

import matrixslow as ms
from matrixslow.core import Graph, Variable, autodiff, plan
from matrixslow.core.errors import ShapeError
from matrixslow.ops import Add, MatMul, ReLU, Welding
from matrixslow.ops.loss import CrossEntropyWithSoftMax
from tests.model.cases import SMALL, Instance, images, set_data

# The zoo, plus the two CNNs whose per-kernel branches the plan fuses: one conv layer of 16 kernels
# (the benchmark's) and two layers of 3, as the book's (whose second layer reads every map of the first).
MODELS = dict(SMALL)
MODELS["cnn_16_kernels"] = Instance(lambda: ms.model.cnn((6, 6), 2, kernels=(16,), hidden=(8,)), images, (2, 1))
MODELS["cnn_book_layers"] = Instance(
    lambda: ms.model.cnn((6, 6), 2, kernels=(3, 3), kernel_shape=(3, 3), hidden=(8,)), images, (2, 1)
)
# Two layers of two kernels on maps of one size: both layers' bias products have the same shapes, so they
# fuse as one group of four, which no group of two may then read as its branches.
MODELS["cnn_equal_layers"] = Instance(
    lambda: ms.model.cnn((6, 6), 2, kernels=(2, 2), pooling=None, hidden=(5,)), images, (2, 1)
)
# The CNNs' per-kernel branches fuse; so do the RNN's input products (one MatMul per time step).
FUSED = {"cnn", "cnn_16_kernels", "cnn_book_layers", "cnn_equal_layers", "rnn"}


def train(name, compiled, batch, steps=4, seed=0):
    """A few Adam steps of model ``name``; returns the graph and, per step, the loss and every trainable value."""
    np.random.seed(seed)
    instance = MODELS[name]
    with Graph(compiled=compiled) as graph:
        model = instance.build()
        optimizer = ms.optimizer.Adam(graph, model.loss, 0.01)
    rng = np.random.default_rng(seed)
    history = []
    for _ in range(steps):
        set_data(graph, model, *instance.data(rng, batch))
        optimizer.one_step()
        losses = np.array(model.loss.value)
        optimizer.update()
        history.append([losses] + [v.value.copy() for v in ms.core.get_trainable_variables_from_graph(graph=graph)])
    return graph, model, history


def assert_same(mine, theirs, exact, where):
    for index, (a, b) in enumerate(zip(mine, theirs, strict=True)):
        if exact:
            np.testing.assert_array_equal(a, b, err_msg=f"{where}, array {index}")
        else:
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-13, err_msg=f"{where}, array {index}")


@pytest.mark.parametrize("batch", [1, 7])
@pytest.mark.parametrize("name", sorted(MODELS))
def test_training_compiled_is_training_interpreted(name, batch):
    compiled_graph, _, compiled = train(name, True, batch)
    interpreted_graph, _, interpreted = train(name, False, batch)
    # Fused kernels add in another order (a shared weight's gradient over all branches at once): equal to
    # rounding then, and bit for bit where nothing is fused.
    exact = not any(plan.groups for _, plans in compiled_graph.plans._entries.values() for plan in plans.values())
    assert exact == (name not in FUSED), f"{name}: fused groups were expected only in {sorted(FUSED)}"
    for step, (mine, theirs) in enumerate(zip(compiled, interpreted, strict=True)):
        assert_same(mine, theirs, exact, f"{name}, batch {batch}, step {step}")
    grads = [(a.grad, b.grad) for a, b in zip(compiled_graph.nodes, interpreted_graph.nodes, strict=True)]
    for (mine, theirs), node in zip(grads, compiled_graph.nodes, strict=True):
        assert (mine is None) == (theirs is None), node.describe()
        if mine is not None:
            assert_same([mine], [theirs], exact, node.describe())
    assert compiled_graph.plans._entries and not interpreted_graph.plans._entries


def test_the_cnns_are_fused_and_their_members_read_rows_of_one_array():
    graph, model, _ = train("cnn_16_kernels", True, 3, steps=2)
    (plans,) = [plans for _, plans in graph.plans._entries.values() if plans]
    (compiled,) = plans.values()
    sizes = sorted(group.size for group in compiled.groups)
    assert sizes == [16] * 6, sizes  # Convolve, Add, bias ScalarMultiply, Add, ReLU, MaxPooling
    fused_steps = [run.__self__ for node, run in compiled.forward_steps if node is None]
    readers = [fused for fused in fused_steps if type(fused).__name__ == "GroupRead"]
    assert [type(reader.node).__name__ for reader in readers] == ["Concat"]  # the flatten reads the pooling group
    model.loss.forward()
    for group in compiled.groups:
        for member in group.members:
            assert np.shares_memory(member.value, group.value), f"{member.describe()} is not a row of its group"
    _, book_model, _ = train("cnn_book_layers", True, 2, steps=1)
    book_groups = [g for p in book_model.loss.graph.plans._entries.values() for pl in p[1].values() for g in pl.groups]
    assert book_groups, "the book's CNN should have fused groups in its first layer"


def test_an_interpreted_backward_after_a_compiled_forward_is_right():
    """A fused MaxPooling hands each member its winning positions, which its own vjp reads."""
    graph, model, _ = train("cnn_16_kernels", True, 3, steps=2)
    model.loss.forward()  # compiled: the fused kernels compute every member
    graph.compiled = False
    after_compiled_forward = autodiff.backward(model.loss)
    graph.reset_value()
    reference = autodiff.backward(model.loss)
    for node, grad in reference.items():
        np.testing.assert_allclose(after_compiled_forward[node], grad, rtol=1e-10, atol=1e-14, err_msg=node.describe())


def small_mlp(graph_kwargs=None):
    np.random.seed(1)  # the same weights every time
    # compiled unless told otherwise, also where MATRIXSLOW_INTERPRETER=1 (tox's second pass) makes that the default
    with Graph(**(graph_kwargs or {"compiled": True})) as graph:
        x = Variable((4, 1), trainable=False, name="x")
        label = Variable((3, 1), trainable=False, name="label")
        hidden = ReLU(Add(MatMul(Variable((5, 4), init=True, name="w1"), x), Variable((5, 1), init=True, name="b1")))
        loss = CrossEntropyWithSoftMax(MatMul(Variable((3, 5), init=True, name="w2"), hidden), label)
    return graph, x, label, loss


def feed(x, label, batch, rng):
    x.set_value(rng.normal(size=(batch, 4, 1)))
    label.set_value(np.eye(3)[rng.integers(0, 3, batch)][:, :, None])


@pytest.fixture
def counted_plans(monkeypatch):
    made = []

    class Counted(plan.Plan):
        def __init__(self, *args):
            super().__init__(*args)
            made.append(self)

    monkeypatch.setattr(autodiff, "Plan", Counted)
    return made


def test_one_plan_per_family_of_shapes_reused_until_the_structure_changes(counted_plans):
    graph, x, label, loss = small_mlp()
    rng = np.random.default_rng(0)
    for _ in range(5):
        feed(x, label, 8, rng)
        autodiff.backward(loss)
    assert len(counted_plans) == 1
    feed(x, label, 3, rng)  # a new batch size is a new family of shapes
    autodiff.backward(loss)
    feed(x, label, 8, rng)
    autodiff.backward(loss)
    assert len(counted_plans) == 2
    with graph:
        Add(loss, loss)  # any new node may change what the plans assumed
    assert not graph.plans._entries
    autodiff.backward(loss)
    assert len(counted_plans) == 3


def test_a_weld_drops_the_plans(counted_plans):
    with Graph(compiled=True) as graph:
        x = Variable((2, 1), init=True, trainable=False)
        w = Variable((2, 2), init=True)
        welded = Welding()
        welded.weld(MatMul(w, x))
        y = ms.ops.Sum(welded)
    autodiff.backward(y)
    autodiff.backward(y)
    assert len(counted_plans) == 1
    with graph:
        welded.weld(MatMul(Variable((2, 2), init=True), x))
    assert not graph.plans._entries
    grads = autodiff.backward(y, wrt=[w])
    np.testing.assert_array_equal(grads[w], np.zeros((2, 2)))  # w no longer reaches y


def test_plans_per_target_are_bounded(counted_plans):
    _, x, label, loss = small_mlp()
    rng = np.random.default_rng(0)
    for batch in range(1, 3 * plan.PlanCache.PLANS_PER_TARGET):
        feed(x, label, batch, rng)
        autodiff.backward(loss)
    (entry,) = loss.graph.plans._entries.values()
    assert len(entry[1]) == plan.PlanCache.PLANS_PER_TARGET


def test_the_switch_runs_the_interpreter(monkeypatch):
    graph, x, label, loss = small_mlp({"compiled": False})
    feed(x, label, 4, np.random.default_rng(0))
    autodiff.backward(loss)
    autodiff.backward(loss)
    assert not graph.plans._entries
    monkeypatch.setenv(plan.INTERPRETER_VARIABLE, "1")
    assert Graph().compiled is False
    monkeypatch.setenv(plan.INTERPRETER_VARIABLE, "0")
    assert Graph().compiled is True
    monkeypatch.delenv(plan.INTERPRETER_VARIABLE)
    assert Graph().compiled is True


def test_the_default_seed_is_made_once_read_only_and_a_given_seed_is_used():
    graph, x, label, loss = small_mlp({"compiled": True})
    rng = np.random.default_rng(0)
    feed(x, label, 4, rng)
    first = autodiff.backward(loss)
    (built,) = graph.plans._entries[loss][1].values()
    seed = built.ones_seed()
    again = autodiff.backward(loss)
    assert built.ones_seed() is seed and not seed.flags.writeable
    np.testing.assert_array_equal(seed, np.ones_like(loss.value))
    for node, gradient in first.items():
        np.testing.assert_array_equal(again[node], gradient)
    doubled = autodiff.backward(loss, seed=2 * np.ones_like(loss.value))
    for node, gradient in first.items():
        np.testing.assert_allclose(doubled[node], 2 * gradient, rtol=1e-15)
    feed(x, label, 3, rng)  # another batch size: another plan, whose seed has the new shape
    autodiff.backward(loss)
    assert [plan_._ones.shape for plan_ in graph.plans._entries[loss][1].values()] == [(4, 1, 1), (3, 1, 1)]
    assert loss.grad is list(graph.plans._entries[loss][1].values())[1].ones_seed()


@pytest.mark.parametrize("compiled", [True, False])
def test_a_bad_batch_raises_the_interpreters_error_after_a_plan_exists(compiled):
    graph, x, label, loss = small_mlp({"compiled": compiled})
    rng = np.random.default_rng(0)
    feed(x, label, 4, rng)
    autodiff.backward(loss)
    autodiff.backward(loss)
    x.set_value(rng.normal(size=(5, 4, 1)))  # 5 samples against the label's 4
    with pytest.raises(ShapeError, match=r"batch sizes differ: \[4, 5\]"):
        autodiff.backward(loss)


def test_the_books_per_node_backward_keeps_every_jacobi_on_a_compiled_graph():
    graph, x, label, loss = small_mlp()
    x.set_value(np.ones((4, 1)))
    label.set_value(np.eye(3)[:, [0]])
    w1, w2 = graph.get("w1"), graph.get("w2")
    for _ in range(2):  # the second time from the plans
        graph.clear_jacobi()
        w1.backward(loss)
        w2.backward(loss)
        assert w1.jacobi is not None and w2.jacobi is not None
    reference_graph, rx, rlabel, rloss = small_mlp({"compiled": False})
    rx.set_value(np.ones((4, 1)))
    rlabel.set_value(np.eye(3)[:, [0]])
    for name in ("w1", "w2"):
        reference = reference_graph.get(name).backward(rloss)
        np.testing.assert_array_equal(graph.get(name).jacobi, reference)


# operator -> how one branch applies it to z = W_i x, given that branch's own Variables and the shared image
BRANCH_OPERATORS = {
    "MatMul": lambda z, other, scalar, image: z,
    "Add": lambda z, other, scalar, image: Add(z, other),
    "Multiply": lambda z, other, scalar, image: ms.ops.Multiply(z, other),
    "ScalarMultiply": lambda z, other, scalar, image: ms.ops.ScalarMultiply(scalar, z),
    "ReLU": lambda z, other, scalar, image: ReLU(z),
    "Logistic": lambda z, other, scalar, image: ms.ops.Logistic(z),
    "Tanh": lambda z, other, scalar, image: ms.ops.Tanh(z),
    "MaxPooling": lambda z, other, scalar, image: ms.ops.MaxPooling(z, size=(3, 1), stride=(2, 1)),
    "Convolve": lambda z, other, scalar, image: ms.ops.Convolve(image, Variable((2, 2), init="glorot")),
}


def parallel_branches(operator, compiled, batch=4):
    """Three parallel branches z_i = W_i x, then ``operator`` on each, summed: every stacked kernel's shape."""
    np.random.seed(2)
    with Graph(compiled=compiled) as graph:
        x = Variable((4, 1), trainable=False, name="x")
        image = ms.ops.Reshape(x, shape=(2, 2))  # one image that every branch's kernel reads
        outputs = []
        for i in range(3):
            z = MatMul(Variable((6, 4), init="glorot", name=f"w{i}"), x)
            other = Variable((6, 1), init="glorot", name=f"c{i}")
            scalar = Variable((1, 1), init="glorot", name=f"s{i}")
            outputs.append(BRANCH_OPERATORS[operator](z, other, scalar, image))
        loss = ms.ops.Sum(ms.ops.Concat(*outputs))
    x.set_value(np.random.default_rng(3).normal(size=(batch, 4, 1)))
    return graph, loss


def test_every_stacked_kernel_has_a_branch_case():
    assert {kind.__name__ for kind in ms.core.fusion.STACKED_KERNELS} == set(BRANCH_OPERATORS)


@pytest.mark.parametrize("batch", [None, 4])
@pytest.mark.parametrize("operator", sorted(BRANCH_OPERATORS))
def test_every_stacked_kernel_matches_the_interpreter(operator, batch):
    results = []
    for compiled in (True, False):
        graph, loss = parallel_branches(operator, compiled, batch or 4)
        if batch is None:  # one sample, unbatched
            graph.get("x").set_value(np.random.default_rng(3).normal(size=(4, 1)))
        for _ in range(2):  # the second from the plan
            grads = autodiff.backward(loss)
        results.append((graph, loss.value.copy(), {node.name: grad for node, grad in grads.items()}))
    (graph, value, grads), (_, reference_value, reference_grads) = results
    (plans,) = [plans for _, plans in graph.plans._entries.values()]
    fused = {type(group.members[0]).__name__ for plan_ in plans.values() for group in plan_.groups}
    assert operator in fused, f"no {operator} group was formed (groups: {sorted(fused)})"
    np.testing.assert_allclose(value, reference_value, rtol=1e-12, atol=1e-14)
    assert grads.keys() == reference_grads.keys()
    for name, grad in grads.items():
        np.testing.assert_allclose(grad, reference_grads[name], rtol=1e-12, atol=1e-14, err_msg=name)


def test_groups_too_large_for_the_memory_limit_stay_unfused(monkeypatch):
    """At large batches the plan runs each branch alone, needing no more memory than the interpreter."""
    monkeypatch.setattr(ms.core.fusion, "FUSED_BYTES_LIMIT", 16 * 6 * 6 * 8 * 3 - 1)  # just under 3 samples
    small_graph, _, small = train("cnn_16_kernels", True, 2, steps=1)
    large_graph, _, large = train("cnn_16_kernels", True, 3, steps=1)
    _, _, reference = train("cnn_16_kernels", False, 3, steps=1)

    def fused(graph):
        groups = [g for _, plans in graph.plans._entries.values() for p in plans.values() for g in p.groups]
        return {type(group.members[0]).__name__ for group in groups}

    assert {"Convolve", "MaxPooling"} <= fused(small_graph)
    # Only the bias times the ones matrix, one small (6, 6) matrix per kernel whatever the batch, stays fused.
    assert fused(large_graph) == {"ScalarMultiply"}
    assert_same(large[0], reference[0], exact=False, where="cnn_16_kernels, batch 3")


def test_the_plan_runs_each_operators_replay_and_a_bad_shape_still_meets_its_checks():
    graph, x, label, loss = small_mlp({"compiled": True})
    rng = np.random.default_rng(0)
    feed(x, label, 4, rng)
    autodiff.backward(loss)
    (built,) = graph.plans._entries[loss][1].values()
    runs = {node: run for node, run in built.forward_steps if node is not None}
    assert runs and all(run == node.replay for node, run in runs.items()), runs
    calls = []
    for node in runs:
        node.compute = lambda node=node: calls.append(node) or type(node).compute(node)
    feed(x, label, 4, rng)  # new values: every operator's value is forgotten, and made again by the plan
    assert all(node.value is None for node in runs)
    autodiff.backward(loss)
    assert all(node.value is not None for node in runs) and not calls, "the plan called compute(), not replay()"
    x.reset_value()  # forget what was computed from x, then put in an array no set_value would take:
    x.value = rng.normal(size=(4, 5, 1))  # another shape family, so the interpreter, and MatMul's check
    with pytest.raises(ShapeError, match=r"cannot multiply \(\d+, 4\) by \(5, 1\)"):
        autodiff.backward(loss)
