"""Variables: inputs take one sample or a batch; trainable parameters are one matrix."""

import numpy as np
import pytest

import matrixslow as ms
from matrixslow.core import ShapeError, Variable
from matrixslow.ops import Add, MatMul


class TestSetValue:
    def test_takes_one_sample_of_its_dim(self, graph):
        x = Variable((3, 1), trainable=False)
        x.set_value(np.arange(3.0).reshape(3, 1))
        np.testing.assert_array_equal(x.value, [[0.0], [1.0], [2.0]])

    def test_an_input_takes_a_batch_of_its_dim(self, graph):
        x = Variable((3, 1), trainable=False)
        batch = np.arange(12.0).reshape(4, 3, 1)
        x.set_value(batch)
        np.testing.assert_array_equal(x.value, batch)

    def test_a_trainable_variable_takes_exactly_one_matrix(self, graph):
        w = Variable((3, 1), name="w")
        with pytest.raises(ShapeError, match=r"Variable 'w': set_value got shape \(4, 3, 1\), expected dim \(3, 1\)$"):
            w.set_value(np.zeros((4, 3, 1)))

    @pytest.mark.parametrize("shape", [(1, 3), (3,), (3, 1, 1), (2, 3, 2), (3, 1, 1, 1)])
    def test_the_error_names_the_variable_the_shape_and_the_expected_dim(self, graph, shape):
        x = Variable((3, 1), trainable=False, name="pixels")
        message = rf"^Variable 'pixels': set_value got shape \({shape[0]},.*\), expected dim \(3, 1\)"
        message += r" or a batch \(B, 3, 1\)$"
        with pytest.raises(ShapeError, match=message):
            x.set_value(np.zeros(shape))
        assert x.value is None

    @pytest.mark.filterwarnings("ignore:the matrix subclass:PendingDeprecationWarning")
    def test_np_matrix_is_accepted_and_stored_as_an_ndarray(self, graph):
        x = Variable((2, 2), trainable=False)
        x.set_value(np.matrix([[1.0, 2.0], [3.0, 4.0]]))
        assert type(x.value) is np.ndarray
        # With an ndarray, "*" is elementwise (np.matrix would make it a matrix product).
        np.testing.assert_array_equal(x.value * x.value, [[1.0, 4.0], [9.0, 16.0]])

    def test_values_are_converted_to_the_graph_dtype(self, graph):
        x = Variable((2, 1), trainable=False)
        x.set_value([[1], [2]])
        assert x.value.dtype == np.float64

    def test_the_variable_keeps_its_own_copy(self, graph):
        x = Variable((2, 1), trainable=False)
        given = np.ones((2, 1))
        x.set_value(given)
        given[0, 0] = 99.0
        np.testing.assert_array_equal(x.value, np.ones((2, 1)))

    def test_a_non_numeric_value_is_a_shape_error(self, graph):
        x = Variable((2, 1), trainable=False, name="x")
        with pytest.raises(ShapeError, match="Variable 'x': set_value got a value that is not numeric"):
            x.set_value([["a"], ["b"]])

    def test_forgets_every_value_computed_from_the_old_one(self, graph):
        x = Variable((2, 1), trainable=False)
        w = Variable((2, 2), init=True)
        other = Variable((2, 1), init=True)
        product = MatMul(w, x)
        total = Add(product, other)
        unrelated = Add(other, other)
        x.set_value(np.ones((2, 1)))
        total.forward()
        unrelated.forward()

        x.set_value(np.full((2, 1), 2.0))

        assert product.value is None and total.value is None
        np.testing.assert_array_equal(unrelated.value, 2 * other.value)
        np.testing.assert_allclose(total.forward(), w.value @ np.full((2, 1), 2.0) + other.value)


class TestInit:
    def test_without_init_there_is_no_value(self, graph):
        assert Variable((2, 3)).value is None

    def test_init_true_is_the_books_normal_with_std_0_001(self, graph):
        np.random.seed(3)
        w = Variable((200, 300), init=True)
        assert w.value.shape == (200, 300)
        assert w.value.dtype == np.float64
        np.random.seed(3)
        np.testing.assert_array_equal(w.value, np.random.normal(0, 0.001, (200, 300)))

    def test_init_glorot_draws_normal_values_scaled_to_the_shape(self, graph):
        w = Variable((200, 300), init="glorot")
        expected_std = np.sqrt(2.0 / (200 + 300))
        assert abs(w.value.std() - expected_std) < 0.02 * expected_std
        assert abs(w.value.mean()) < 0.05 * expected_std

    def test_init_zeros_ones_and_a_callable(self, graph):
        np.testing.assert_array_equal(Variable((2, 3), init="zeros").value, np.zeros((2, 3)))
        np.testing.assert_array_equal(Variable((2, 3), init="ones").value, np.ones((2, 3)))
        made = Variable((2, 3), init=lambda dim: np.full(dim, 7.0)).value
        np.testing.assert_array_equal(made, np.full((2, 3), 7.0))

    def test_an_unknown_init_is_refused_naming_the_variable(self, graph):
        with pytest.raises(ValueError, match=r"Variable 'w': init must be True, False, 'glorot'.*got 'xavier'"):
            Variable((2, 3), init="xavier", name="w")

    def test_a_callable_init_of_the_wrong_shape_is_refused(self, graph):
        with pytest.raises(ShapeError, match=r"Variable 'w': set_value got shape \(3, 2\), expected dim \(2, 3\)"):
            Variable((2, 3), init=lambda dim: np.zeros((3, 2)), name="w")

    def test_init_follows_the_global_numpy_seed(self, graph):
        np.random.seed(7)
        first = Variable((3, 3), init=True).value
        np.random.seed(7)
        second = Variable((3, 3), init=True).value
        np.testing.assert_array_equal(first, second)

    def test_init_uses_the_graph_dtype(self):
        with ms.core.Graph(dtype=np.float32):
            assert Variable((3, 3), init=True).value.dtype == np.float32


class TestDim:
    @pytest.mark.parametrize("dim", [(3,), (3, 1, 1), (0, 1), (2, -1), (2.5, 1), "ab", 3, None])
    def test_dim_is_two_positive_ints(self, graph, dim):
        with pytest.raises(ShapeError, match=r"Variable 'w': dim must be two positive ints \(rows, cols\), got"):
            Variable(dim, name="w")
        assert graph.node_count() == 0

    def test_an_unnamed_variable_with_a_bad_dim_says_so(self, graph):
        with pytest.raises(ShapeError, match=r"Variable '\(unnamed\)': dim must be two positive ints"):
            Variable((1, 2, 3))

    def test_numpy_ints_and_lists_are_fine(self, graph):
        assert Variable([np.int64(2), 3]).dim == (2, 3)

    def test_dimension_counts_the_elements_of_one_sample(self, graph):
        x = Variable((3, 2), trainable=False)
        x.set_value(np.zeros((5, 3, 2)))
        assert x.dimension() == 6
        assert x.shape() == (5, 3, 2)


@pytest.mark.filterwarnings("ignore:the matrix subclass:PendingDeprecationWarning")
class TestBookValueReads:
    """The book reads np.matrix attributes on values; ``forward()`` leaves a value that has them."""

    def test_forward_value_answers_dot_a_and_a1_with_plain_arrays(self, graph):
        x = Variable((2, 1), trainable=False)
        x.set_value(np.asmatrix([[1.0, 2.0]]).T)
        doubled = Add(x, x)
        doubled.forward()
        assert type(doubled.value.A) is np.ndarray and type(doubled.value.A1) is np.ndarray
        np.testing.assert_array_equal(doubled.value.A, [[2.0], [4.0]])
        np.testing.assert_array_equal(doubled.value.A1, [2.0, 4.0])
        np.testing.assert_array_equal(doubled.value.getA1(), [2.0, 4.0])
        assert doubled.value[1, 0] == 4.0 and isinstance(doubled.value, np.ndarray)

    def test_the_engine_keeps_its_own_arrays_plain(self, graph):
        x = Variable((2, 1), trainable=False)
        x.set_value(np.ones((2, 1)))
        w = Variable((2, 2), init=True)
        loss = MatMul(w, x)
        ms.core.backward(loss)  # the optimizers' path: no BookValue anywhere
        assert all(type(node.value) is np.ndarray for node in graph.nodes)
        assert type(w.grad) is np.ndarray

    def test_values_computed_on_the_way_read_the_books_way_too(self, graph):
        x = Variable((2, 1), trainable=False)
        x.set_value(np.ones((2, 1)))
        w = Variable((2, 2), init=True)
        hidden = MatMul(w, x)
        loss = Add(hidden, hidden)
        loss.forward()
        np.testing.assert_array_equal(hidden.value.A1, (w.value @ x.value).ravel())
        assert type(x.value) is np.ndarray, "a Variable keeps the array it was given"

    def test_arithmetic_on_book_values_gives_plain_arrays(self, graph):
        # So the subclass cannot spread into the weights through an update like w - lr * grad.
        x = Variable((2, 1), trainable=False)
        x.set_value(np.ones((2, 1)))
        doubled = Add(x, x)
        doubled.forward()
        assert type(doubled.value * 2) is np.ndarray and type(np.exp(doubled.value)) is np.ndarray
        assert type(doubled.value - np.ones((2, 1))) is np.ndarray

    def test_weights_stay_plain_through_the_books_loop(self, graph):
        x = Variable((2, 1), trainable=False)
        x.set_value(np.ones((2, 1)))
        w = Variable((1, 2), init=True)
        loss = MatMul(w, x)
        optimizer = ms.optimizer.Adam(graph, loss, 0.1)
        for _ in range(2):
            loss.forward()
            w.backward(loss)
            w.set_value(w.value - 0.1 * w.jacobi.T.reshape(w.shape()))
            optimizer.one_step()
            optimizer.update()
        assert type(w.value) is np.ndarray and type(w.grad) is np.ndarray
