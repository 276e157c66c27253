"""Chapter 5: the book's fully connected networks, written as the book writes them.

``nn_iris.py`` (a 4-10-10-3 network on the iris flowers), ``lr_mnist.py`` (softmax
regression) and ``nn_mnist.py`` (a 100-20 hidden-layer network). Each trains one sample
at a time with ``optimizer.one_step()``, calls ``optimizer.update()`` every
``batch_size`` samples, and prints the accuracy on the training set after each epoch.

Shrunk to run in seconds: the iris flowers come from scikit-learn's bundled copy (the
book reads ``data/Iris.csv``, the same 150 flowers, and shuffles them with
``data.sample``; here ``np.random.permutation`` under the seed), and MNIST becomes
scikit-learn's bundled 8x8 digits (pixels 0-16, so scaled by /16 where the book scales
MNIST by /255), fewer samples and epochs. Written for NumPy 2 and scikit-learn 1.9:
``np.asmatrix`` for ``np.mat``, ``int`` for ``np.int``, ``OneHotEncoder(sparse_output=False)``
for ``OneHotEncoder(sparse=False)``.

Each program is a module-level function of its seed and settings returning what the
book prints, so ``PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION=python python -m
tests.book.measure_with_original /work/orig test_ch05_networks <function> [args]`` runs the
very same code on the original package; the figures below were measured that way.

What matches and what cannot: ``init=True`` and ``ms.layer.fc`` draw the book's
N(0, 0.001) weights in the book's order, so everything before the first
``optimizer.update()`` is the original's: the loss the MNIST programs print first and the
first sample's loss of ``nn_iris`` are asserted to 1e-8, the gap left by the original's
cross entropy, -log(p + 1e-10) where ours is -log(p). From the first update on, the
programs differ by design: our Adam corrects the bias of its moment estimates and adds
its epsilon outside the square root, the book's does neither, so the accuracies are
asserted within 0.03 of the original's and above a floor that proves learning.
"""

import numpy as np
import pytest
from sklearn.datasets import load_digits, load_iris
from sklearn.preprocessing import OneHotEncoder

import matrixslow as ms


def one_hot_encode(labels):
    # scikit-learn 1.2 renamed the book's OneHotEncoder(sparse=False).
    return OneHotEncoder(sparse_output=False).fit_transform(labels.reshape(-1, 1))


def train_one_epoch(optimizer, samples, batch_size, feed, after_batch=None):
    """The book's inner loop: one ``one_step()`` per sample, an ``update()`` after every ``batch_size``."""
    batch_count = 0
    for i in range(samples):
        feed(i)
        optimizer.one_step()
        batch_count += 1
        if batch_count >= batch_size:
            if after_batch is not None:
                after_batch(i)
            optimizer.update()
            batch_count = 0


def predicted_classes(predict, samples, x, features):
    """The book's evaluation: ``predict.forward()`` per sample, the argmax of ``predict.value.A.ravel()``."""
    pred = []
    for i in range(samples):
        x.set_value(np.asmatrix(features[i]).T)
        predict.forward()
        pred.append(predict.value.A.ravel())
    return np.array(pred).argmax(axis=1)


def nn_iris(seed=0, epochs=30, learning_rate=0.02, batch_size=16):
    """``nn_iris.py``: the training accuracy after each epoch, and the first sample's loss (before any update)."""
    np.random.seed(seed)
    iris = load_iris()
    order = np.random.permutation(len(iris.target))
    features, number_label = iris.data[order], iris.target[order]
    one_hot_label = one_hot_encode(number_label)

    x = ms.core.Variable(dim=(4, 1), init=False, trainable=False)
    one_hot = ms.core.Variable(dim=(3, 1), init=False, trainable=False)
    hidden_1 = ms.layer.fc(x, 4, 10, "ReLU")
    hidden_2 = ms.layer.fc(hidden_1, 10, 10, "ReLU")
    output = ms.layer.fc(hidden_2, 10, 3, None)
    predict = ms.ops.SoftMax(output)
    loss = ms.ops.loss.CrossEntropyWithSoftMax(output, one_hot)
    optimizer = ms.optimizer.Adam(ms.default_graph, loss, learning_rate)

    def feed(i):
        x.set_value(np.asmatrix(features[i, :]).T)
        one_hot.set_value(np.asmatrix(one_hot_label[i, :]).T)

    feed(0)
    loss.forward()
    first_loss = float(loss.value[0, 0])

    accuracies = []
    for _ in range(epochs):
        train_one_epoch(optimizer, len(features), batch_size, feed)
        pred = predicted_classes(predict, len(features), x, features)
        accuracies.append(float((number_label == pred).astype(int).sum() / len(features)))
    return accuracies, first_loss


def digits(samples):
    """The first ``samples`` digits as rows of 64 pixels in [0, 1] (the book's MNIST rows / 255), labels, one-hot."""
    X, y = load_digits(return_X_y=True)
    X, y = X[:samples] / 16, y.astype(int)[:samples]
    return X, y, one_hot_encode(y)


def mnist_program(hidden, seed, samples, epochs, learning_rate, batch_size):
    """``lr_mnist.py`` (no hidden layer) and ``nn_mnist.py`` (``hidden=(100, 20)``), on the 8x8 digits.

    Returns the losses the book prints at each update (read before the update), and the
    training accuracy after each epoch.
    """
    np.random.seed(seed)
    X, y, one_hot_label = digits(samples)

    x = ms.core.Variable(dim=(64, 1), init=False, trainable=False)
    one_hot = ms.core.Variable(dim=(10, 1), init=False, trainable=False)
    layer, width = x, 64
    for size in hidden:
        layer, width = ms.layer.fc(layer, width, size, "ReLU"), size
    output = ms.layer.fc(layer, width, 10, None)
    predict = ms.ops.SoftMax(output)
    loss = ms.ops.loss.CrossEntropyWithSoftMax(output, one_hot)
    optimizer = ms.optimizer.Adam(ms.default_graph, loss, learning_rate)

    def feed(i):
        x.set_value(np.asmatrix(X[i]).T)
        one_hot.set_value(np.asmatrix(one_hot_label[i]).T)

    losses, accuracies = [], []
    for _ in range(epochs):
        train_one_epoch(optimizer, len(X), batch_size, feed, after_batch=lambda i: losses.append(loss.value[0, 0]))
        pred = predicted_classes(predict, len(X), x, X)
        accuracies.append(float((y == pred).astype(int).sum() / len(X)))
    return [float(value) for value in losses], accuracies


def lr_mnist(seed=0, samples=500, epochs=20, learning_rate=0.001, batch_size=16):
    """``lr_mnist.py``: softmax regression, ``ms.layer.fc(x, 64, 10, None)``.

    The book's 5,000 samples in batches of 64 are 78 updates an epoch; 500 in batches of 16 are 31.
    """
    return mnist_program((), seed, samples, epochs, learning_rate, batch_size)


def nn_mnist(seed=0, samples=300, epochs=20, learning_rate=0.005, batch_size=16):
    """``nn_mnist.py``: hidden layers of 100 and 20 ReLU units.

    The book's learning rate 0.001 over 2,340 updates becomes 0.005 over 360 (300 samples in
    batches of 16, 20 epochs): with the book's 0.001 this short run leaves the original at 0.48
    (its Adam's epsilon inside the square root slows the small first gradients) and ours at 0.93.
    """
    return mnist_program((100, 20), seed, samples, epochs, learning_rate, batch_size)


# -- the tests ----------------------------------------------------------------


# The original's figures, each measured with the functions' default settings by
#   PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION=python python -m tests.book.measure_with_original \
#       /work/orig test_ch05_networks <function> 0
ORIGINAL_NN_IRIS_ACCURACY = 0.9733333333333334  # nn_iris 0 (seeds 1, 2: 0.9867, 0.9867; ours 0.9733)
ORIGINAL_NN_IRIS_FIRST_LOSS = 1.0984439534761883
ORIGINAL_LR_MNIST_ACCURACY = 0.944  # lr_mnist 0 (ours 0.94), last printed loss 0.3415
ORIGINAL_LR_MNIST_FIRST_LOSS = 2.3055933412750074
ORIGINAL_NN_MNIST_ACCURACY = 0.9833333333333333  # nn_mnist 0 (ours 0.99), last printed loss 0.00126
ORIGINAL_NN_MNIST_FIRST_LOSS = 2.303166941573698
# The original's cross entropy is -log(p + 1e-10) where ours is -log(p): 1e-9 apart at p = 1/10.
CROSS_ENTROPY_EPSILON_GAP = 1e-8


def test_nn_iris_reaches_the_original_accuracy():
    accuracies, first_loss = nn_iris(seed=0)
    assert len(accuracies) == 30
    assert first_loss == pytest.approx(ORIGINAL_NN_IRIS_FIRST_LOSS, abs=CROSS_ENTROPY_EPSILON_GAP)
    assert accuracies[-1] == pytest.approx(ORIGINAL_NN_IRIS_ACCURACY, abs=0.03)
    assert accuracies[-1] > 0.9 > accuracies[0]


def test_lr_mnist_prints_the_original_first_loss_and_reaches_its_accuracy():
    losses, accuracies = lr_mnist(seed=0)
    assert len(losses) == 20 * (500 // 16), "one printed loss per update, 31 an epoch"
    # The first printed loss is read before any update: the original's initial weights.
    assert losses[0] == pytest.approx(ORIGINAL_LR_MNIST_FIRST_LOSS, abs=CROSS_ENTROPY_EPSILON_GAP)
    assert losses[0] != losses[1], "the second is read after one update"
    assert losses[-1] < 0.6
    assert accuracies[-1] == pytest.approx(ORIGINAL_LR_MNIST_ACCURACY, abs=0.03)
    assert accuracies[-1] > 0.9


def test_nn_mnist_prints_the_original_first_loss_and_reaches_its_accuracy():
    losses, accuracies = nn_mnist(seed=0)
    assert len(losses) == 20 * (300 // 16)
    assert losses[0] == pytest.approx(ORIGINAL_NN_MNIST_FIRST_LOSS, abs=CROSS_ENTROPY_EPSILON_GAP)
    assert accuracies[-1] == pytest.approx(ORIGINAL_NN_MNIST_ACCURACY, abs=0.03)
    assert accuracies[-1] > 0.9 > accuracies[0]


def test_the_book_api_the_network_programs_read():
    np.random.seed(0)
    x = ms.core.Variable(dim=(4, 1), init=False, trainable=False)
    one_hot = ms.core.Variable(dim=(3, 1), init=False, trainable=False)
    hidden = ms.layer.fc(x, 4, 10, "ReLU")
    output = ms.layer.fc(hidden, 10, 3, None)
    predict = ms.ops.SoftMax(output)
    loss = ms.ops.loss.CrossEntropyWithSoftMax(output, one_hot)
    trainable = [node for node in ms.default_graph.nodes if isinstance(node, ms.core.Variable) and node.trainable]
    # ms.layer.fc(input, input_size, size, activation) makes a size x input_size weight and a size x 1 bias.
    assert [node.dim for node in trainable] == [(10, 4), (10, 1), (3, 10), (3, 1)]

    x.set_value(np.asmatrix([5.1, 3.5, 1.4, 0.2]).T)
    one_hot.set_value(np.asmatrix([1.0, 0.0, 0.0]).T)
    predict.forward()
    probabilities = predict.value.A.ravel()
    assert probabilities.shape == (3,)
    assert probabilities.sum() == pytest.approx(1.0)
    np.testing.assert_array_equal(predict.value.A1, probabilities)

    loss.forward()
    weight = trainable[0]
    weight.backward(loss)
    assert weight.jacobi.shape == (1, 40), "the loss's Jacobian by the 10x4 weight is a 1x40 row"
    ms.default_graph.clear_jacobi()
    assert weight.jacobi is None

    optimizer = ms.optimizer.Adam(ms.default_graph, loss, 0.02)
    before = weight.value.copy()
    optimizer.one_step()
    assert optimizer.acc_no == 1
    np.testing.assert_array_equal(weight.value, before)
    optimizer.update()
    assert optimizer.acc_no == 0
    assert not np.array_equal(weight.value, before)
