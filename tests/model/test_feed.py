"""``model.feed(x)`` splits a data set's x (N samples first) into the batches of the model's input nodes."""

import numpy as np
import pytest

import matrixslow as ms
from matrixslow.core import ShapeError

X = np.arange(4 * 6, dtype=float).reshape(4, 6)  # 4 samples, 6 columns: X[n, c] = 6n + c


def test_a_vector_model_takes_rows_or_columns(graph):
    model = ms.model.dnn(6, [3], 2)
    fed = model.feed(X)
    assert list(fed) == ["x"]
    np.testing.assert_array_equal(fed["x"], X[:, :, None])
    np.testing.assert_array_equal(model.feed(X[:, :, None])["x"], X[:, :, None])


def test_a_matrix_model_takes_flat_rows_in_row_major_order(graph):
    model = ms.model.cnn((2, 3), 2, kernels=(1,), kernel_shape=(1, 1), pooling=None, hidden=())
    fed = model.feed(X)["x"]
    assert fed.shape == (4, 2, 3)
    np.testing.assert_array_equal(fed[1], [[6.0, 7.0, 8.0], [9.0, 10.0, 11.0]])


def test_feeding_a_sample_of_the_wrong_size_names_the_model_and_the_input(graph):
    model = ms.model.logistic_regression(5)
    with pytest.raises(ShapeError, match=r"logistic_regression: cannot feed x of shape \(4, 6\) to input 'x' of dim"):
        model.feed(X)


def test_an_rnn_gets_one_batch_per_step(graph):
    model = ms.model.rnn(3, 2, 4, 2)
    x = X.reshape(4, 3, 2)  # sample n, step t, feature f
    fed = model.feed(x)
    assert list(fed) == ["x_0", "x_1", "x_2"]
    for step in range(3):
        np.testing.assert_array_equal(fed[f"x_{step}"], X[:, 2 * step : 2 * step + 2, None])


def test_an_rnn_refuses_a_sequence_of_another_length(graph):
    model = ms.model.rnn(4, 2, 4, 2)
    with pytest.raises(ShapeError, match=r"rnn: x must be \(N, 4 steps, features\), got shape \(4, 3, 2\)"):
        model.feed(X.reshape(4, 3, 2))


def test_fields_given_as_counts_take_consecutive_columns(graph):
    model = ms.model.deepfm({"a": 2, "b": 3}, 2, [])
    assert model.fields == {"a": [0, 1], "b": [2, 3, 4]}
    fed = model.feed(X)
    assert [node.name for node in model.inputs] == ["a", "b"] == list(fed)
    np.testing.assert_array_equal(fed["a"], X[:, 0:2, None])
    np.testing.assert_array_equal(fed["b"], X[:, 2:5, None])
    assert [node.dim for node in model.inputs] == [(2, 1), (3, 1)]


def test_fields_given_as_column_lists_take_those_columns_in_that_order(graph):
    model = ms.model.wide_and_deep({"late": [5, 1], "early": [0]}, 2, [3])
    fed = model.feed(X)
    np.testing.assert_array_equal(fed["late"], X[:, [5, 1], None])
    np.testing.assert_array_equal(fed["early"], X[:, [0], None])


def test_counts_continue_after_the_last_listed_column(graph):
    model = ms.model.deepfm({"a": [2, 3], "b": 2}, 2, [])
    assert model.fields == {"a": [2, 3], "b": [4, 5]}


def test_an_fm_with_fields_has_one_input_per_field(graph):
    model = ms.model.factorization_machine(3, 2, fields={"u": [2], "v": [0, 1]})
    assert isinstance(model, ms.model.FieldModel)
    fed = model.feed(X)
    np.testing.assert_array_equal(fed["u"], X[:, [2], None])
    np.testing.assert_array_equal(fed["v"], X[:, [0, 1], None])


def test_a_table_with_too_few_columns_is_refused(graph):
    model = ms.model.deepfm({"a": 4, "b": 3}, 2, [])
    with pytest.raises(ShapeError, match=r"deepfm: x must be \(N, columns\) with at least 7 columns.*\(4, 6\)"):
        model.feed(X)


def test_fed_batches_are_what_the_inputs_accept(graph):
    model = ms.model.deepfm({"a": 2, "b": 3}, 2, [4])
    for name, batch in model.feed(X).items():
        graph.get(name).set_value(batch)
    model.label.set_value(np.ones((4, 1, 1)))
    assert model.loss.forward().shape == (4, 1, 1)
