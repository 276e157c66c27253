"""Every operator and loss of the book, against the book's own definition of it.

The original MatrixSlow defines each operator by two functions: ``compute()``, its value,
and ``get_jacobi(parent)``, the dense per-sample Jacobian d vec(out) / d vec(parent), both
vectors taken row by row. Below, each is restated as a few lines of NumPy (``book_*``) and
compared with our engine: the value from ``node.forward()``, the Jacobian from
``ms.core.jacobian(node, parent)``, which builds the same dense matrix, one row per output
element, out of our backward functions. Every ``book_*`` function was checked against the
original package itself, on the inputs used here and on clipped ones (exponents past 1e2).

Where we depart from the book on purpose, a test says so and by how much: MaxPooling's
even windows and its Jacobian on non-square maps, CrossEntropyWithSoftMax's 1e-10 inside
the log, and the exponent clipping of Logistic, LogLoss and SoftMax.
"""

import numpy as np
import pytest

import matrixslow as ms

SAME = 1e-12  # where ours and the book compute the same thing, in a different order
EXP_CLIP = 1e2  # the book never lets an exponent pass 100
LOG_EPSILON = 1e-10  # the book's cross-entropy takes log(p + 1e-10)
NEGATIVE_SLOPE = 0.1  # the book's ReLU is leaky: 0.1 x for x <= 0


# -- the book's definitions --------------------------------------------------------------


def book_softmax(x):
    exps = np.exp(np.minimum(x, EXP_CLIP))
    return exps / exps.sum()


def book_logistic(x):
    return 1.0 / (1.0 + np.exp(np.minimum(-x, EXP_CLIP)))


def book_logistic_jacobi(x):
    s = book_logistic(x)
    return np.diag((s * (1.0 - s)).ravel())


def book_relu(x):
    return np.where(x > 0.0, x, NEGATIVE_SLOPE * x)


def book_relu_jacobi(x):
    return np.diag(np.where(x > 0.0, 1.0, NEGATIVE_SLOPE).ravel())


def book_step(x):
    return np.where(x >= 0.0, 1.0, 0.0)


def book_step_jacobi(x):
    # Zero, as it should be. The original returns these zeros as a 1 x N row rather than
    # N x N; nothing ever backpropagates through Step (the book predicts with it, never trains).
    return np.zeros((x.size, x.size))


def book_log_loss(x):
    return np.log(1.0 + np.exp(np.minimum(-x, EXP_CLIP)))


def book_log_loss_jacobi(x):
    return np.diag((-1.0 / (1.0 + np.exp(np.minimum(x, EXP_CLIP)))).ravel())


def book_perception_loss(x):
    return np.where(x >= 0.0, 0.0, -x)


def book_perception_loss_jacobi(x):
    return np.diag(np.where(x >= 0.0, 0.0, -1.0).ravel())


def book_cross_entropy(logits, labels):
    return np.array([[-np.sum(labels * np.log(book_softmax(logits) + LOG_EPSILON))]])


def book_cross_entropy_jacobi(logits, labels, parent):
    # A 1 x N row: the loss is one number. Note: no epsilon here, unlike in the value.
    prob = book_softmax(logits)
    return (prob - labels).reshape(1, -1) if parent == 0 else -np.log(prob).reshape(1, -1)


def book_matmul_jacobi(a, b, parent):
    # out[i, j] = sum_k a[i, k] b[k, j], so d out[i, j] / d a[p, q] = [i == p] b[q, j]
    # and d out[i, j] / d b[p, q] = a[i, p] [j == q]: Kronecker products in row-major order.
    if parent == 0:
        return np.kron(np.eye(a.shape[0]), b.T)
    return np.kron(a, np.eye(b.shape[1]))


def book_scalar_multiply_jacobi(scalar, matrix, parent):
    return matrix.reshape(-1, 1) if parent == 0 else scalar[0, 0] * np.eye(matrix.size)


def book_concat(*values):
    return np.concatenate([value.ravel() for value in values])[:, None]


def book_concat_jacobi(*values, parent):
    sizes = [value.size for value in values]
    start = sum(sizes[:parent])
    jacobi = np.zeros((sum(sizes), sizes[parent]))
    jacobi[start : start + sizes[parent]] = np.eye(sizes[parent])
    return jacobi


def zero_padded(x, kernel_shape):
    """``x`` with kernel_rows // 2 zero rows above and below, kernel_cols // 2 zero columns each side."""
    top, left = kernel_shape[0] // 2, kernel_shape[1] // 2
    padded = np.zeros((x.shape[0] + 2 * top, x.shape[1] + 2 * left))
    padded[top : top + x.shape[0], left : left + x.shape[1]] = x
    return padded


def book_convolve(x, kernel):
    """out[a, b] = sum of the kernel times the window of the padded x whose corner is (a, b)."""
    kh, kw = kernel.shape
    padded = zero_padded(x, kernel.shape)
    rows, cols = x.shape
    return np.array([[np.sum(padded[a : a + kh, b : b + kw] * kernel) for b in range(cols)] for a in range(rows)])


def book_convolve_jacobi(x, kernel, parent):
    kh, kw = kernel.shape
    rows, cols = x.shape
    if parent == 1:
        # Output (a, b) is linear in the kernel, with the window (a, b) as coefficients.
        padded = zero_padded(x, kernel.shape)
        return np.array([padded[a : a + kh, b : b + kw].ravel() for a in range(rows) for b in range(cols)])
    # Output (a, b) sees input pixel (r, c) through kernel entry (r - a + kh // 2, c - b + kw // 2).
    jacobi = np.zeros((x.size, x.size))
    for a in range(rows):
        for b in range(cols):
            for r in range(rows):
                for c in range(cols):
                    k, l = r - a + kh // 2, c - b + kw // 2
                    if 0 <= k < kh and 0 <= l < kw:
                        jacobi[a * cols + b, r * cols + c] = kernel[k, l]
    return jacobi


def pooling_windows(x, stride, before, after):
    """(top, bottom, left, right) of each window: rows i - before .. i + after around every
    stride-th pixel i (columns likewise), clipped to the map, in row-major output order."""
    rows, cols = x.shape
    for i in range(0, rows, stride[0]):
        for j in range(0, cols, stride[1]):
            top, bottom = max(0, i - before[0]), min(rows, i + after[0] + 1)
            left, right = max(0, j - before[1]), min(cols, j + after[1] + 1)
            yield top, bottom, left, right


def book_windows(x, size, stride):
    # The book's window spans size // 2 either side of its centre: size + 1 pixels for even sizes.
    half = (size[0] // 2, size[1] // 2)
    return pooling_windows(x, stride, before=half, after=half)


def pooled(x, windows, stride):
    maxima = [x[top:bottom, left:right].max() for top, bottom, left, right in windows]
    return np.array(maxima).reshape(-(-x.shape[0] // stride[0]), -(-x.shape[1] // stride[1]))


def book_max_pooling(x, size, stride):
    return pooled(x, book_windows(x, size, stride), stride)


def book_max_pooling_jacobi(x, size, stride):
    """One row per output, with a 1 where the book records its window's maximum."""
    rows = []
    for top, bottom, left, right in book_windows(x, size, stride):
        where = np.argmax(x[top:bottom, left:right])
        r, c = top + where // (right - left), left + where % (right - left)
        row = np.zeros(x.size)
        # The book's offset: the row index times the number of rows, where the row-major
        # position is r * columns + c. The same on square maps only (see the tests below).
        row[r * x.shape[0] + c] = 1.0
        rows.append(row)
    return np.array(rows)


# -- running our engine ------------------------------------------------------------------


def evaluate(operator, *values, **settings):
    """``operator`` on Variables holding ``values`` in a fresh graph: the node, after forward(), and its parents."""
    with ms.core.Graph():
        parents = [ms.core.Variable(value.shape, init=False, trainable=False) for value in values]
        for parent, value in zip(parents, values, strict=True):
            parent.set_value(value)
        node = operator(*parents, **settings)
    node.forward()
    return node, parents


def assert_same(ours, book, tolerance=SAME):
    assert np.shape(ours) == np.shape(book)
    np.testing.assert_allclose(ours, book, rtol=0, atol=tolerance)


def central_difference_jacobi(function, x, step=1e-6):
    """d vec(function(x)) / d vec(x), one column per input element."""
    columns = []
    for i in range(x.size):
        shift = np.zeros_like(x)
        shift.flat[i] = step
        columns.append(((function(x + shift) - function(x - shift)) / (2 * step)).ravel())
    return np.array(columns).T


rng = np.random.default_rng(2020)
A, C = rng.normal(size=(2, 3)), rng.normal(size=(2, 3))
B = rng.normal(size=(3, 4))
SCALAR = np.array([[-1.7]])
# Moderate values, with an exact zero and negatives, where the >= and > of the book's rules differ.
X = np.array([[-2.5, 0.0], [0.7, -0.3], [4.0, -6.0]])
LOGITS = np.array([[0.3], [-1.2], [2.1], [0.5]])
ONE_HOT = np.array([[0.0], [0.0], [1.0], [0.0]])
IMAGE = rng.normal(size=(4, 5))
SQUARE_MAP = rng.normal(size=(6, 6))
WIDE_MAP = rng.normal(size=(3, 5))  # fewer rows than columns: the book's offsets stay inside the map


# -- one table: operator, inputs, settings, the book's value, the book's Jacobian per parent ----

CASES = [
    pytest.param(ms.ops.Add, [A, C, A], {}, lambda *v: v[0] + v[1] + v[2], lambda *v, parent: np.eye(6), id="Add"),
    pytest.param(ms.ops.MatMul, [A, B], {}, lambda a, b: a @ b, book_matmul_jacobi, id="MatMul"),
    pytest.param(ms.ops.Logistic, [X], {}, book_logistic, lambda x, parent: book_logistic_jacobi(x), id="Logistic"),
    pytest.param(ms.ops.ReLU, [X], {}, book_relu, lambda x, parent: book_relu_jacobi(x), id="ReLU"),
    pytest.param(ms.ops.Step, [X], {}, book_step, lambda x, parent: book_step_jacobi(x), id="Step"),
    pytest.param(
        ms.ops.Reshape, [A], {"shape": (3, 2)}, lambda a: a.reshape(3, 2), lambda a, parent: np.eye(6), id="Reshape"
    ),
    pytest.param(
        ms.ops.Multiply,
        [A, C],
        {},
        lambda a, c: a * c,
        lambda a, c, parent: np.diag([c, a][parent].ravel()),
        id="Multiply",
    ),
    pytest.param(
        ms.ops.ScalarMultiply, [SCALAR, A], {}, lambda s, a: s * a, book_scalar_multiply_jacobi, id="ScalarMultiply"
    ),
    pytest.param(
        ms.ops.Concat, [A, B, X], {}, book_concat, lambda *v, parent: book_concat_jacobi(*v, parent=parent), id="Concat"
    ),
    pytest.param(ms.ops.Convolve, [IMAGE, B], {}, book_convolve, book_convolve_jacobi, id="Convolve-3x4"),
    pytest.param(ms.ops.Convolve, [IMAGE, A], {}, book_convolve, book_convolve_jacobi, id="Convolve-2x3"),
    pytest.param(
        ms.ops.MaxPooling,
        [SQUARE_MAP],
        {"size": (3, 3), "stride": (2, 2)},
        lambda x: book_max_pooling(x, (3, 3), (2, 2)),
        lambda x, parent: book_max_pooling_jacobi(x, (3, 3), (2, 2)),
        id="MaxPooling-square",
    ),
    pytest.param(ms.ops.LogLoss, [X], {}, book_log_loss, lambda x, parent: book_log_loss_jacobi(x), id="LogLoss"),
    pytest.param(
        ms.ops.CrossEntropyWithSoftMax,
        [LOGITS, ONE_HOT],
        {},
        book_cross_entropy,
        book_cross_entropy_jacobi,
        id="CrossEntropyWithSoftMax",
    ),
    pytest.param(
        ms.ops.PerceptionLoss,
        [X],
        {},
        book_perception_loss,
        lambda x, parent: book_perception_loss_jacobi(x),
        id="PerceptionLoss",
    ),
]


@pytest.mark.parametrize(("operator", "inputs", "settings", "book_value", "book_jacobi"), CASES)
def test_value_matches_book(operator, inputs, settings, book_value, book_jacobi):
    node, _ = evaluate(operator, *inputs, **settings)
    # The cross-entropy's 1e-10 inside the log moves it by about 1e-10 / p (see below).
    tolerance = 1e-8 if operator is ms.ops.CrossEntropyWithSoftMax else SAME
    assert_same(node.value, book_value(*inputs), tolerance)


@pytest.mark.parametrize(("operator", "inputs", "settings", "book_value", "book_jacobi"), CASES)
def test_jacobian_matches_book_for_every_parent(operator, inputs, settings, book_value, book_jacobi):
    node, parents = evaluate(operator, *inputs, **settings)
    for index, parent in enumerate(parents):
        assert_same(ms.core.jacobian(node, parent), book_jacobi(*inputs, parent=index))


def test_relu_is_leaky_with_the_books_slope_by_default():
    node, (x,) = evaluate(ms.ops.ReLU, X)
    negative = X <= 0.0
    np.testing.assert_array_equal(node.value[negative], 0.1 * X[negative])
    np.testing.assert_array_equal(np.diag(ms.core.jacobian(node, x)), np.where(X > 0.0, 1.0, 0.1).ravel())


def test_welding_is_the_identity_on_the_node_it_is_welded_to():
    with ms.core.Graph():
        a = ms.core.Variable(A.shape, init=False, trainable=False)
        a.set_value(A)
        welded = ms.ops.Welding()
        welded.weld(a)
    welded.forward()
    assert_same(welded.value, A)
    assert_same(ms.core.jacobian(welded, a), np.eye(A.size))


def test_softmax_value_matches_book_and_its_jacobian_is_the_textbook_one():
    node, (logits,) = evaluate(ms.ops.SoftMax, LOGITS)
    assert_same(node.value, book_softmax(LOGITS))
    # The book leaves SoftMax.get_jacobi unimplemented (training goes through
    # CrossEntropyWithSoftMax); ours is diag(s) - s s^T, which its derivation gives.
    s = book_softmax(LOGITS)
    assert_same(ms.core.jacobian(node, logits), np.diag(s.ravel()) - s @ s.T)


# -- documented differences ---------------------------------------------------------------


def our_windows(x, size, stride):
    # Ours: exactly size pixels, starting size // 2 before the centre.
    before = (size[0] // 2, size[1] // 2)
    return pooling_windows(x, stride, before, after=(size[0] - 1 - before[0], size[1] - 1 - before[1]))


def test_max_pooling_odd_windows_are_the_books_even_ones_are_not():
    # For an odd size both windows are centre +- size // 2; all the book's programs use (3, 3).
    for shape in [(6, 6), (3, 5), (5, 3), (4, 7)]:
        x = rng.normal(size=shape)
        node, _ = evaluate(ms.ops.MaxPooling, x, size=(3, 3), stride=(2, 2))
        assert_same(node.value, book_max_pooling(x, (3, 3), (2, 2)))
    # For size (2, 2) the book takes rows i - 1 .. i + 1, a 3 x 3 window; ours takes i - 1 .. i.
    x = np.arange(16.0).reshape(4, 4)
    node, _ = evaluate(ms.ops.MaxPooling, x, size=(2, 2), stride=(2, 2))
    np.testing.assert_array_equal(node.value, pooled(x, our_windows(x, (2, 2), (2, 2)), (2, 2)))
    np.testing.assert_array_equal(node.value, [[0.0, 2.0], [8.0, 10.0]])
    np.testing.assert_array_equal(book_max_pooling(x, (2, 2), (2, 2)), [[5.0, 7.0], [13.0, 15.0]])


def test_max_pooling_jacobian_on_a_non_square_map_is_right_where_the_books_is_not():
    size, stride = (3, 3), (2, 2)
    node, (x,) = evaluate(ms.ops.MaxPooling, WIDE_MAP, size=size, stride=stride)
    ours = ms.core.jacobian(node, x)
    # The derivative of the book's own value (which ours equals for a 3 x 3 window).
    truth = central_difference_jacobi(lambda m: book_max_pooling(m, size, stride), WIDE_MAP)
    assert_same(ours, truth, 1e-9)
    assert np.array_equal(ours.sum(axis=1), np.ones(node.value.size))  # one winner per window
    # The book's offset r * rows + c sends the gradient to the wrong pixel whenever a window's
    # maximum lies below the map's first row (r > 0); on square maps it is right (table above).
    book = book_max_pooling_jacobi(WIDE_MAP, size, stride)
    winner_row = ours.argmax(axis=1) // WIDE_MAP.shape[1]
    wrong = np.any(book != ours, axis=1)
    assert wrong.sum() >= 3
    np.testing.assert_array_equal(wrong, winner_row > 0)


def test_cross_entropy_drops_the_books_epsilon_and_stays_exact_when_a_probability_underflows():
    # Ordinary probabilities: the book's log(p + 1e-10) is off by about 1e-10 / p.
    node, (logits, labels) = evaluate(ms.ops.CrossEntropyWithSoftMax, LOGITS, ONE_HOT)
    exact = -np.log(book_softmax(LOGITS)[2, 0])
    difference = book_cross_entropy(LOGITS, ONE_HOT)[0, 0] - node.value[0, 0]
    assert abs(node.value[0, 0] - exact) < SAME
    assert -1e-9 < difference < 0.0
    # Logits 805 apart: the labelled probability is e^-805, zero in floating point. The book
    # saturates at -log(1e-10) = 23.03 and its Jacobian for the labels is infinite; ours is exact.
    far_logits, label = np.array([[0.0], [-800.0], [5.0]]), np.array([[0.0], [1.0], [0.0]])
    node, (logits, labels) = evaluate(ms.ops.CrossEntropyWithSoftMax, far_logits, label)
    log_sum = np.logaddexp(0.0, 5.0)
    assert_same(node.value, [[800.0 + log_sum]])
    assert_same(book_cross_entropy(far_logits, label), [[-np.log(LOG_EPSILON)]])
    assert_same(ms.core.jacobian(node, labels), [[log_sum, 800.0 + log_sum, log_sum - 5.0]])
    with np.errstate(divide="ignore"):
        assert np.isinf(book_cross_entropy_jacobi(far_logits, label, parent=1)[0, 1])
    # The Jacobian for the logits needs no log, and is the book's.
    assert_same(ms.core.jacobian(node, logits), book_cross_entropy_jacobi(far_logits, label, parent=0))


def test_cross_entropy_jacobian_is_right_for_labels_that_do_not_sum_to_one():
    # The book's p - labels is the derivative only when the labels sum to 1 (one-hot or a
    # distribution); ours is p * sum(labels) - labels, the derivative in every case.
    labels = np.array([[0.0], [1.0], [1.0], [0.0]])
    node, (logits, _) = evaluate(ms.ops.CrossEntropyWithSoftMax, LOGITS, labels)
    truth = central_difference_jacobi(lambda z: -np.sum(labels * np.log(book_softmax(z))), LOGITS)
    assert_same(ms.core.jacobian(node, logits), truth, 1e-8)
    assert not np.allclose(book_cross_entropy_jacobi(LOGITS, labels, parent=0), truth, atol=1e-3)


def test_logistic_and_log_loss_are_exact_beyond_the_books_exponent_clip():
    # Below -100 the book computes e^100 in place of e^-x: its Logistic stops at 1 / (1 + e^100)
    # = 3.7e-44 and its LogLoss at log(1 + e^100) = 100. Ours (through logaddexp) needs no clip.
    x = np.array([[-200.0, 200.0]])
    logistic, _ = evaluate(ms.ops.Logistic, x)
    assert_same(book_logistic(x), [[1.0 / (1.0 + np.exp(100.0)), 1.0]], 1e-55)
    assert_same(logistic.value, [[np.exp(-200.0), 1.0]], 1e-100)
    log_loss, (parent,) = evaluate(ms.ops.LogLoss, x)
    assert_same(book_log_loss(x), [[100.0, 0.0]])
    assert_same(log_loss.value, [[200.0, np.exp(-200.0)]], 1e-100)
    # Its Jacobian -1 / (1 + e^x) is clipped above x = 100 instead: -3.7e-44 where ours is -e^-200.
    assert_same(np.diag(book_log_loss_jacobi(x)), [-1.0, -1.0 / (1.0 + np.exp(100.0))], 1e-55)
    assert_same(np.diag(ms.core.jacobian(log_loss, parent)), [-1.0, -np.exp(-200.0)], 1e-100)


def test_softmax_is_exact_for_logits_past_the_books_clip():
    # The book clips logits at 100 (150 and 120 both become 100, so it says 50 % each) and
    # divides 0 by 0 when every logit is below about -745; ours subtracts the maximum instead.
    node, _ = evaluate(ms.ops.SoftMax, np.array([[150.0], [120.0], [0.0]]))
    assert_same(book_softmax(np.array([[150.0], [120.0], [0.0]])), [[0.5], [0.5], [0.5 * np.exp(-100.0)]])
    assert_same(node.value, [[1.0 / (1.0 + np.exp(-30.0))], [np.exp(-30.0) / (1.0 + np.exp(-30.0))], [0.0]])
    node, _ = evaluate(ms.ops.SoftMax, np.array([[-1000.0], [-1001.0]]))
    assert_same(node.value, [[1.0 / (1.0 + np.exp(-1.0))], [np.exp(-1.0) / (1.0 + np.exp(-1.0))]])
    with np.errstate(invalid="ignore"):
        assert np.all(np.isnan(book_softmax(np.array([[-1000.0], [-1001.0]]))))
