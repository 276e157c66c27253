"""Each operator's value for one sample is its definition, computed independently in NumPy."""

import numpy as np
import pytest

import matrixslow as ms
from matrixslow import ops
from matrixslow.core import Graph, Variable
from matrixslow.ops import loss
from tests.ops.cases import CASES, softmax


def build(case, values):
    parents = []
    for value in values:
        parent = Variable(value.shape[-2:], trainable=False)
        parent.set_value(value)
        parents.append(parent)
    return parents, case.build(parents)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_one_sample_value_matches_the_reference(graph, case):
    values = case.values(np.random.default_rng(1))
    _, node = build(case, values)
    expected = case.reference(*values)
    result = node.forward()
    assert result.shape == expected.shape
    np.testing.assert_allclose(result, expected, rtol=1e-12, atol=1e-14)


def test_relu_keeps_a_tenth_of_negative_inputs_and_zero_stays_zero(graph):
    x = Variable((1, 3), trainable=False)
    x.set_value(np.array([[-2.0, 0.0, 3.0]]))
    np.testing.assert_array_equal(ops.ReLU(x).forward(), [[-0.2, 0.0, 3.0]])


@pytest.mark.parametrize("slope", [0.1, 1e-3, 1.0, 0.0, -0.5, 2.0])
def test_relu_is_x_where_positive_else_slope_times_x_at_every_special_value(graph, slope):
    special = [-np.inf, -1e308, -3.0, -1e-320, -0.0, 0.0, 1e-320, 2.5, 1e308, np.inf, np.nan]
    x_value = np.array([special])
    x = Variable(x_value.shape, trainable=False)
    x.set_value(x_value)
    with np.errstate(all="ignore"):  # 0 * inf and 2 * 1e308 warn, as they should
        result = ops.ReLU(x, nslope=slope).forward()
        expected = np.where(x_value > 0.0, x_value, slope * x_value)
    np.testing.assert_array_equal(result, expected)  # NaN where NaN
    assert np.array_equal(np.signbit(result), np.signbit(expected))  # -0.0 stays -0.0


def test_step_is_one_at_zero(graph):
    x = Variable((1, 3), trainable=False)
    x.set_value(np.array([[-1e-300, 0.0, 1e-300]]))
    np.testing.assert_array_equal(ops.Step(x).forward(), [[0.0, 1.0, 1.0]])


def test_softmax_is_a_distribution_over_the_whole_sample(graph):
    x = Variable((2, 2), trainable=False)
    x.set_value(np.log(np.array([[1.0, 2.0], [3.0, 4.0]])))
    np.testing.assert_allclose(ops.SoftMax(x).forward(), [[0.1, 0.2], [0.3, 0.4]], rtol=1e-12)


def test_softmax_reference_is_itself_right():
    np.testing.assert_allclose(softmax(np.log(np.array([[1.0], [3.0]]))), [[0.25], [0.75]])


def test_convolve_keeps_the_input_shape_and_centres_an_odd_kernel(graph):
    x, kernel = Variable((3, 3), trainable=False), Variable((3, 3), trainable=False)
    x.set_value(np.arange(9.0).reshape(3, 3))
    centre_only = np.zeros((3, 3))
    centre_only[1, 1] = 2.0
    kernel.set_value(centre_only)
    np.testing.assert_array_equal(ops.Convolve(x, kernel).forward(), 2.0 * np.arange(9.0).reshape(3, 3))


def test_convolve_is_a_cross_correlation_not_a_flipped_convolution(graph):
    x, kernel = Variable((1, 3), trainable=False), Variable((1, 3), trainable=False)
    x.set_value(np.array([[1.0, 2.0, 3.0]]))
    kernel.set_value(np.array([[0.0, 0.0, 1.0]]))  # picks the right-hand neighbour
    np.testing.assert_array_equal(ops.Convolve(x, kernel).forward(), [[2.0, 3.0, 0.0]])


def test_max_pooling_gives_ceil_of_size_over_stride_pixels(graph):
    x = Variable((7, 5), trainable=False)
    x.set_value(np.arange(35.0).reshape(7, 5))
    pooled = ops.MaxPooling(x, size=(3, 3), stride=(2, 2)).forward()
    assert pooled.shape == (4, 3)
    # Window of (0, 0) is rows 0..1, cols 0..1 (centred on the corner, clipped): max is x[1, 1].
    assert pooled[0, 0] == 6.0
    assert pooled[3, 2] == 34.0


def test_log_loss_of_the_book_is_elementwise(graph):
    x = Variable((2, 1), trainable=False)
    x.set_value(np.array([[0.0], [np.log(3.0)]]))
    np.testing.assert_allclose(loss.LogLoss(x).forward(), [[np.log(2.0)], [np.log(4.0 / 3.0)]], rtol=1e-12)


def test_cross_entropy_of_a_uniform_prediction_is_log_of_the_classes(graph):
    logits, labels = Variable((4, 1), trainable=False), Variable((4, 1), trainable=False)
    logits.set_value(np.full((4, 1), 7.0))
    labels.set_value(np.eye(4)[:, [2]])
    np.testing.assert_allclose(loss.CrossEntropyWithSoftMax(logits, labels).forward(), [[np.log(4.0)]], rtol=1e-12)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_a_float32_graph_stays_float32_in_values_and_gradients(case):
    values = case.values(np.random.default_rng(5))
    with Graph(dtype=np.float32):
        parents, node = build(case, values)
        result = node.forward()
        grads = ms.core.backward(node, wrt=parents)
    assert result.dtype == np.float32
    np.testing.assert_allclose(result, case.reference(*values), rtol=1e-5, atol=1e-6)
    for parent in parents:
        assert grads[parent].dtype == np.float32, parent.name


# The operators whose compute() is shape checks and then arithmetic put the arithmetic alone in replay(),
# which the compiled plan calls (ops/base.py). Those of a step's hot path must have one.
REPLAYED = {"Add", "MatMul", "Multiply", "ScalarMultiply", "Logistic", "ReLU", "Tanh", "SoftMax", "LogLoss"}
REPLAYED |= {"CrossEntropyWithSoftMax"}
REPLAY_CASES = [case for case in CASES if case.id.split("-")[0] in REPLAYED]


def test_the_hot_operators_have_a_replay_and_a_case():
    missing = sorted(name for name in REPLAYED if getattr(ms.core.registry.NODE_TYPES[name], "replay", None) is None)
    assert not missing, f"no replay(): {missing}"
    assert {case.id.split("-")[0] for case in REPLAY_CASES} == REPLAYED


@pytest.mark.parametrize("batch", [None, 1, 3], ids=["sample", "batch1", "batch3"])
@pytest.mark.parametrize("case", REPLAY_CASES, ids=lambda case: case.id)
def test_replay_gives_computes_value_bit_for_bit(graph, case, batch):
    values = case.values(np.random.default_rng(2), batch)
    _, node = build(case, values)
    node.forward()
    expected = np.array(node.value)
    node.value = None
    node.replay()
    assert node.value.dtype == expected.dtype and node.value.shape == expected.shape
    np.testing.assert_array_equal(node.value, expected)
