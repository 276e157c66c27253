"""Forward and reverse mode over the cached topological order."""

import sys

import numpy as np
import pytest

import matrixslow as ms
from matrixslow.core import Variable
from matrixslow.ops import Add, Logistic, MatMul, Multiply, Operator, Sum, Tanh
from tests.support import numerical_gradient


class CountingIdentity(Operator):
    """An identity operator that counts how often its value is computed."""

    computed = 0

    def compute(self):
        CountingIdentity.computed += 1
        self.value = self.parents[0].value

    def vjp(self, parent_index, grad):
        return grad


def _scalar_net():
    """loss = sum(logistic(W x + b)) for one sample, with its pieces."""
    x = Variable((3, 1), trainable=False, name="x")
    w = Variable((2, 3), init=True, name="w")
    b = Variable((2, 1), init=True, name="b")
    hidden = Logistic(Add(MatMul(w, x), b))
    x.set_value(np.array([[0.5], [-1.0], [2.0]]))
    return x, w, b, hidden, Sum(hidden)


class TestTopologicalOrder:
    def test_parents_come_before_children_and_every_node_once(self, graph):
        x, w, b, hidden, loss = _scalar_net()
        shared = Multiply(hidden, hidden)  # a diamond: two paths from hidden
        order = ms.core.topological_order(Add(shared, hidden))
        assert len(order) == len(set(order))
        assert set(order) == set(graph.nodes) - {loss}
        position = {node: i for i, node in enumerate(order)}
        for node in order:
            assert all(position[parent] < position[node] for parent in node.parents)

    def test_the_order_holds_only_ancestors(self, graph):
        x, w, b, hidden, loss = _scalar_net()
        unrelated = Variable((1, 1))
        assert set(ms.core.topological_order(hidden)) == {x, w, b, hidden, hidden.parents[0], w.children[0]}
        assert unrelated not in ms.core.topological_order(loss)


class TestForward:
    def test_forward_computes_each_node_once_until_an_input_changes(self, graph):
        x = Variable((2, 1), trainable=False)
        counted = CountingIdentity(x)
        y = Sum(counted)
        x.set_value(np.ones((2, 1)))
        CountingIdentity.computed = 0
        y.forward()
        y.forward()
        counted.forward()
        assert CountingIdentity.computed == 1
        x.set_value(np.full((2, 1), 3.0))
        np.testing.assert_array_equal(y.forward(), [[6.0]])
        assert CountingIdentity.computed == 2

    def test_forward_returns_the_value(self, graph):
        x, w, b, hidden, loss = _scalar_net()
        expected = 1.0 / (1.0 + np.exp(-(w.value @ x.value + b.value)))
        np.testing.assert_allclose(hidden.forward(), expected, rtol=1e-12)
        np.testing.assert_allclose(loss.forward(), expected.sum(keepdims=True), rtol=1e-12)


class TestBackward:
    def test_gradients_match_central_differences(self, graph):
        x, w, b, hidden, loss = _scalar_net()

        def loss_value():
            graph.reset_value()
            return loss.forward().item()

        numerical = {node: numerical_gradient(loss_value, node.value) for node in (w, b, x)}
        grads = ms.core.backward(loss, wrt=[w, b, x])
        for node, expected in numerical.items():
            np.testing.assert_allclose(grads[node], expected, rtol=1e-6, atol=1e-9)

    def test_by_default_the_gradients_are_those_of_the_trainable_variables(self, graph):
        x, w, b, hidden, loss = _scalar_net()
        assert set(ms.core.backward(loss)) == {w, b}

    def test_backward_twice_gives_the_same_gradients(self, graph):
        x, w, b, hidden, loss = _scalar_net()
        first = {node: grad.copy() for node, grad in ms.core.backward(loss).items()}
        first_jacobi = w.jacobi.copy()
        second = ms.core.backward(loss)
        for node in (w, b):
            np.testing.assert_array_equal(second[node], first[node])
        np.testing.assert_array_equal(w.jacobi, first_jacobi)

    def test_a_node_reached_by_two_paths_sums_both(self, graph):
        x = Variable((2, 1), name="x")
        x.set_value(np.array([[3.0], [-2.0]]))
        square = Sum(Multiply(x, x))
        np.testing.assert_array_equal(ms.core.backward(square, wrt=[x])[x], [[6.0], [-4.0]])

    def test_the_seed_weights_each_element_of_a_non_scalar_result(self, graph):
        x, w, b, hidden, loss = _scalar_net()
        seed = np.array([[2.0], [-1.0]])
        s = hidden.forward()
        expected = (seed * s * (1 - s)) @ x.value.T
        np.testing.assert_allclose(ms.core.backward(hidden, wrt=[w], seed=seed)[w], expected, rtol=1e-12)
        # Without a seed a non-scalar result is differentiated as the sum of its elements.
        np.testing.assert_allclose(ms.core.backward(hidden, wrt=[w])[w], (s * (1 - s)) @ x.value.T, rtol=1e-12)

    def test_a_seed_of_the_wrong_shape_is_rejected(self, graph):
        *_, hidden, loss = _scalar_net()
        with pytest.raises(ms.core.ShapeError, match=r"seed of shape \(1, 2\) does not match value \(2, 1\)"):
            ms.core.backward(hidden, seed=np.ones((1, 2)))

    def test_a_node_the_result_does_not_depend_on_gets_a_zero_gradient(self, graph):
        x, w, b, hidden, loss = _scalar_net()
        unused = Variable((2, 2), init=True)
        np.testing.assert_array_equal(ms.core.backward(loss, wrt=[unused])[unused], np.zeros((2, 2)))


class TestJacobi:
    def test_jacobi_is_the_gradient_as_a_row_vector(self, graph):
        x, w, b, hidden, loss = _scalar_net()
        ms.core.backward(loss)
        s = hidden.value
        expected = ((s * (1 - s)) @ x.value.T).reshape(1, -1)  # row-major: w[0, :] then w[1, :]
        assert w.jacobi.shape == (1, 6)
        np.testing.assert_allclose(w.jacobi, expected, rtol=1e-12)
        np.testing.assert_allclose(b.jacobi, (s * (1 - s)).reshape(1, 2), rtol=1e-12)

    def test_the_book_call_node_backward_result_returns_the_jacobi(self, graph):
        x, w, b, hidden, loss = _scalar_net()
        s = hidden.forward()
        jacobi = b.backward(loss)
        np.testing.assert_allclose(jacobi, (s * (1 - s)).T, rtol=1e-12)
        # The book's optimizer loop: each trainable variable asks in turn.
        graph.clear_jacobi()
        np.testing.assert_allclose(w.backward(loss), ((s * (1 - s)) @ x.value.T).reshape(1, 6), rtol=1e-12)

    def test_per_node_backward_keeps_every_asked_gradient_until_clear_jacobi(self, graph):
        x, w, b, hidden, loss = _scalar_net()
        s = hidden.forward()
        w.backward(loss)
        b.backward(loss)  # the book asks for w, then for b, then reads both
        np.testing.assert_allclose(w.jacobi, ((s * (1 - s)) @ x.value.T).reshape(1, 6), rtol=1e-12)
        np.testing.assert_allclose(b.jacobi, (s * (1 - s)).reshape(1, 2), rtol=1e-12)
        graph.clear_jacobi()
        assert w.jacobi is None and b.jacobi is None

    def test_per_node_backward_before_clearing_returns_the_gradient_already_computed(self, graph):
        x, w, b, hidden, loss = _scalar_net()
        first = w.backward(loss).copy()
        x.set_value(x.value + 1.0)
        np.testing.assert_array_equal(w.backward(loss), first)  # the book's cache: clear_jacobi() between samples
        graph.clear_jacobi()
        assert not np.allclose(w.backward(loss), first)

    def test_an_optimizer_step_clears_per_node_gradients(self, graph):
        x, w, b, hidden, loss = _scalar_net()
        w.backward(loss)
        optimizer = ms.optimizer.GradientDescent(graph, hidden, 0.1)
        optimizer.one_step()
        # The optimizer differentiated `hidden`; w.jacobi is that gradient now, not the old one of `loss`.
        np.testing.assert_allclose(w.jacobi, optimizer.acc_gradient[w].reshape(1, -1), rtol=1e-12)

    def test_core_backward_still_forgets_older_gradients(self, graph):
        x, w, b, hidden, loss = _scalar_net()
        b.backward(loss)
        ms.core.backward(loss, wrt=[w])
        assert b.jacobi is None

    def test_jacobi_is_none_before_any_backward(self, graph):
        x, w, *_ = _scalar_net()
        assert w.jacobi is None


class TestJacobian:
    def test_jacobian_of_a_product_with_respect_to_its_vector_is_the_matrix(self, graph):
        w = Variable((3, 2), init=True)
        x = Variable((2, 1), init=True)
        product = MatMul(w, x)
        np.testing.assert_allclose(ms.core.jacobian(product, x), w.value, rtol=1e-12)

    def test_jacobian_has_result_dimension_rows_and_node_dimension_columns(self, graph):
        w = Variable((3, 2), init=True)
        x = Variable((2, 1), init=True)
        product = MatMul(w, x)
        jacobian = ms.core.jacobian(product, w)
        assert jacobian.shape == (product.dimension(), w.dimension()) == (3, 6)
        # d(Wx)_i / dW_jk = [i == j] x_k
        np.testing.assert_allclose(jacobian, np.kron(np.eye(3), x.value.T), rtol=1e-12)

    def test_jacobian_matches_central_differences_through_a_nonlinearity(self, graph):
        w = Variable((3, 3), init=True)
        x = Variable((3, 1), init=True)
        result = Tanh(MatMul(w, x))

        def column_of(i):
            def value():
                graph.reset_value()
                return result.forward()[i, 0]

            return value

        expected = np.stack([numerical_gradient(column_of(i), x.value).ravel() for i in range(3)])
        np.testing.assert_allclose(ms.core.jacobian(result, x), expected, rtol=1e-6, atol=1e-10)

    def test_jacobian_is_for_single_samples(self, graph):
        x = Variable((2, 1), trainable=False)
        x.set_value(np.ones((4, 2, 1)))
        y = Tanh(x)
        with pytest.raises(ms.core.GraphError, match=r"jacobian needs single-sample \(2-D\) values"):
            ms.core.jacobian(y, x)


class TestDeepGraphs:
    STEPS, HIDDEN, INPUT = 1000, 4, 3

    def test_a_thousand_step_rnn_runs_forward_and_backward_without_recursion(self, graph):
        """h_t = tanh(W h_(t-1) + U x_t + b), loss = sum of every h_t; checked against hand-written BPTT."""
        rng = np.random.default_rng(0)
        w_value = rng.normal(0.0, 0.4, (self.HIDDEN, self.HIDDEN))
        u_value = rng.normal(0.0, 0.4, (self.HIDDEN, self.INPUT))
        b_value = rng.normal(0.0, 0.1, (self.HIDDEN, 1))
        xs = rng.normal(0.0, 1.0, (self.STEPS, self.INPUT, 1))

        w, u, b = Variable(w_value.shape), Variable(u_value.shape), Variable(b_value.shape)
        h0 = Variable((self.HIDDEN, 1), trainable=False)
        for node, value in ((w, w_value), (u, u_value), (b, b_value), (h0, np.zeros((self.HIDDEN, 1)))):
            node.set_value(value)
        h, step_sums = h0, []
        for t in range(self.STEPS):
            x_t = Variable((self.INPUT, 1), trainable=False)
            x_t.set_value(xs[t])
            h = Tanh(Add(MatMul(w, h), MatMul(u, x_t), b))
            step_sums.append(Sum(h))
        loss = Add(*step_sums)

        limit = sys.getrecursionlimit()
        assert len(ms.core.topological_order(loss)) > limit, "the graph must be deeper than the recursion limit"
        grads = ms.core.backward(loss)
        assert sys.getrecursionlimit() == limit

        # The same in plain NumPy: forward, then backpropagation through time.
        hs = [np.zeros((self.HIDDEN, 1))]
        for t in range(self.STEPS):
            hs.append(np.tanh(w_value @ hs[-1] + u_value @ xs[t] + b_value))
        d_w, d_u, d_b = np.zeros_like(w_value), np.zeros_like(u_value), np.zeros_like(b_value)
        d_h = np.zeros((self.HIDDEN, 1))
        for t in range(self.STEPS, 0, -1):
            d_h = d_h + 1.0  # from Sum(h_t)
            d_pre = d_h * (1.0 - hs[t] ** 2)
            d_w += d_pre @ hs[t - 1].T
            d_u += d_pre @ xs[t - 1].T
            d_b += d_pre
            d_h = w_value.T @ d_pre

        np.testing.assert_allclose(loss.value, sum(h.sum() for h in hs[1:]), rtol=1e-12)
        for node, expected in ((w, d_w), (u, d_u), (b, d_b)):
            assert np.all(np.isfinite(grads[node]))
            np.testing.assert_allclose(grads[node], expected, rtol=1e-9, atol=1e-12)
