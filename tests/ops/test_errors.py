"""Errors are part of the interface: they name the node, the operator and the shapes."""

import numpy as np
import pytest

import matrixslow as ms
from matrixslow.core import GraphError, ShapeError, Variable
from matrixslow.ops import Add, Convolve, MatMul, MaxPooling, Reshape, ScalarMultiply, Welding
from matrixslow.ops.loss import CrossEntropyWithSoftMax, LogLoss, MeanSquaredError


def variable(shape, value_shape=None, name=None):
    node = Variable(shape, trainable=False, name=name)
    node.set_value(np.ones(value_shape or shape))
    return node


class TestShapesAtForwardTime:
    def test_matmul_names_the_node_and_both_shapes(self, graph):
        w = variable((10, 4))
        x = variable((3, 1))
        variable((1, 1))
        with ms.name_scope("Hidden"):
            product = MatMul(w, x)  # building is fine: shapes are checked when values flow
        with pytest.raises(ShapeError, match=r"^MatMul 'Hidden/MatMul:3': cannot multiply \(10, 4\) by \(3, 1\)$"):
            product.forward()
        assert product.value is None

    def test_matmul_names_per_sample_shapes_for_a_batch(self, graph):
        product = MatMul(variable((10, 4)), variable((3, 1), (5, 3, 1)))
        with pytest.raises(ShapeError, match=r"cannot multiply \(10, 4\) by \(3, 1\)"):
            product.forward()

    def test_add_of_different_shapes(self, graph):
        total = Add(variable((2, 3)), variable((3, 2)), name="total")
        with pytest.raises(ShapeError, match=r"^Add 'total': parents have different shapes \(2, 3\), \(3, 2\)$"):
            total.forward()

    @pytest.mark.parametrize("operator", [Add, MatMul])
    def test_batch_sizes_must_agree(self, graph, operator):
        node = operator(variable((2, 2), (4, 2, 2)), variable((2, 2), (3, 2, 2)))
        with pytest.raises(ShapeError, match=rf"^{operator.__name__} '.*': batch sizes differ: \[3, 4\]$"):
            node.forward()

    def test_loss_labels_must_match_the_logits(self, graph):
        loss = CrossEntropyWithSoftMax(variable((3, 1)), variable((4, 1)), name="loss")
        message = r"^CrossEntropyWithSoftMax 'loss': labels of shape \(4, 1\)"
        message += r" do not match the predictions' shape \(3, 1\)$"
        with pytest.raises(ShapeError, match=message):
            loss.forward()

    @pytest.mark.parametrize("loss_type", [LogLoss, MeanSquaredError])
    def test_other_losses_check_their_labels_too(self, graph, loss_type):
        with pytest.raises(ShapeError, match=r"labels of shape \(1, 2\) do not match the predictions' shape \(2, 1\)"):
            loss_type(variable((2, 1)), variable((1, 2))).forward()

    def test_loss_labels_must_have_the_batch_of_the_logits(self, graph):
        loss = CrossEntropyWithSoftMax(variable((3, 1), (4, 3, 1)), variable((3, 1), (2, 3, 1)))
        with pytest.raises(ShapeError, match=r"batch sizes differ: \[2, 4\]"):
            loss.forward()

    def test_reshape_to_a_different_number_of_elements(self, graph):
        node = Reshape(variable((3, 4)), shape=(5, 2), name="flat")
        with pytest.raises(ShapeError, match=r"^Reshape 'flat': cannot reshape \(3, 4\) to \(5, 2\)$"):
            node.forward()

    def test_scalar_multiply_needs_a_1x1_first_parent(self, graph):
        node = ScalarMultiply(variable((2, 2)), variable((2, 2)))
        with pytest.raises(ShapeError, match=r"first parent must be a 1x1 scalar, got \(2, 2\)"):
            node.forward()

    def test_convolve_kernel_must_fit_in_the_input(self, graph):
        node = Convolve(variable((3, 3)), variable((5, 5)))
        with pytest.raises(ShapeError, match=r"kernel \(5, 5\) is larger than the input \(3, 3\)"):
            node.forward()

    def test_an_operator_given_the_wrong_number_of_parents(self, graph):
        node = MatMul(variable((2, 2)))
        with pytest.raises(ShapeError, match=r"^MatMul 'MatMul:1': takes 2 parent\(s\), got 1$"):
            node.forward()

    def test_a_failed_forward_can_be_retried_once_the_input_is_fixed(self, graph):
        x = variable((3, 1))
        product = MatMul(variable((2, 4)), x)
        with pytest.raises(ShapeError):
            product.forward()
        x.dim = (4, 1)  # simulate rebuilding the input with the right shape
        x.set_value(np.ones((4, 1)))
        np.testing.assert_array_equal(product.forward(), np.full((2, 1), 4.0))


class TestGraphMistakes:
    def test_forward_of_an_unset_variable_names_it(self, graph):
        x = Variable((2, 1), trainable=False, name="x")
        y = ms.ops.Tanh(x)
        with pytest.raises(GraphError, match=r"^Variable 'x' has no value: call set_value\(\) before forward\(\)$"):
            y.forward()

    def test_a_parent_that_is_not_a_node(self, graph):
        x = variable((2, 2))
        with pytest.raises(GraphError, match=r"^Add 'Add:1': parent 1 is a ndarray, expected a Node$"):
            Add(x, np.ones((2, 2)))
        assert graph.node_count() == 1
        assert x.get_children() == [], "a rejected node must not stay linked to its parents"

    def test_a_rejected_duplicate_name_leaves_no_trace(self, graph):
        x = variable((2, 2))
        first = Add(x, x, name="sum")
        with pytest.raises(ValueError, match="already has a node named 'sum'"):
            Add(x, x, name="sum")
        assert x.get_children() == [first, first]

    def test_an_unwelded_welding_node(self, graph):
        node = Welding()
        with pytest.raises(GraphError, match=r"^Welding 'Welding:0' is not welded to a node: call weld\(node\) first$"):
            node.forward()


class TestSettingsAtBuildTime:
    @pytest.mark.parametrize("shape", [(4,), (1, 2, 2), 4])
    def test_reshape_needs_rows_and_cols(self, graph, shape):
        with pytest.raises(ValueError, match=r"Reshape: shape must be \(rows, cols\), got"):
            Reshape(variable((2, 2)), shape=shape)

    @pytest.mark.parametrize(
        ("size", "stride", "field"), [((0, 2), (1, 1), "size"), ((2, 2), (1,), "stride"), ((2, 2), (1.5, 1), "stride")]
    )
    def test_max_pooling_needs_two_positive_ints(self, graph, size, stride, field):
        with pytest.raises(ValueError, match=f"MaxPooling: {field} must be two positive ints"):
            MaxPooling(variable((4, 4)), size=size, stride=stride)
