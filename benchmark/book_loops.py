"""The book's own per-sample loops, to time what reading values the book's way costs.

``node.forward()`` leaves every value it computed readable as ``.A``/``.A1`` (a
``BookValue`` view per node); ``autodiff.forward(node)`` computes the same values and
leaves them plain. Each loop here takes the forward function as an argument, so a
benchmark runs the very same loop both ways, and a test checks they compute the same.
"""

import numpy as np

import matrixslow as ms
from matrixslow.core import autodiff

SAMPLES = 100
LEARNING_RATE = 1e-4


def book_forward(node):
    return node.forward()


def plain_forward(node):
    autodiff.forward(node)
    return node.value


FORWARDS = {"matrixslow": book_forward, "plain_values": plain_forward}


def adaline(seed=0):
    """Chapter 2's ADALINE: forward, ``w.backward(loss)``, ``b.backward(loss)``, the update by hand.

    Returns ``run(forward) -> (w, b)``: one epoch over the same samples from the same start.
    """
    rng = np.random.default_rng(seed)
    features, labels = rng.normal(size=(SAMPLES, 3)), np.sign(rng.normal(size=SAMPLES))
    graph = ms.core.Graph()
    with graph:
        x = ms.core.Variable(dim=(3, 1), init=False, trainable=False)
        label = ms.core.Variable(dim=(1, 1), init=False, trainable=False)
        w = ms.core.Variable(dim=(1, 3), init=False, trainable=True)
        b = ms.core.Variable(dim=(1, 1), init=False, trainable=True)
        loss = ms.ops.loss.PerceptionLoss(ms.ops.MatMul(label, ms.ops.Add(ms.ops.MatMul(w, x), b)))
    start_w, start_b = rng.normal(0, 1e-3, (1, 3)), rng.normal(0, 1e-3, (1, 1))

    def run(forward):
        w.set_value(start_w)
        b.set_value(start_b)
        for i in range(SAMPLES):
            x.set_value(features[i].reshape(3, 1))
            label.set_value(labels[i].reshape(1, 1))
            forward(loss)
            w.backward(loss)
            b.backward(loss)
            w.set_value(w.value - LEARNING_RATE * w.jacobi.T.reshape(w.shape()))
            b.set_value(b.value - LEARNING_RATE * b.jacobi.T.reshape(b.shape()))
            graph.clear_jacobi()
        return w.value.copy(), b.value.copy()

    return run


def iris_evaluation(seed=0):
    """Chapter 5's evaluation loop: ``predict.forward()`` per sample, then ``predict.value.A.ravel()``.

    Returns ``run(forward) -> probabilities`` (SAMPLES x 3) of a 4-10-10-3 network.
    """
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(SAMPLES, 4))
    np.random.seed(seed)  # the layers' weights come from NumPy's global generator, as in the book
    with ms.core.Graph():
        x = ms.core.Variable(dim=(4, 1), init=False, trainable=False)
        hidden = ms.layer.fc(ms.layer.fc(x, 4, 10, "ReLU"), 10, 10, "ReLU")
        predict = ms.ops.SoftMax(ms.layer.fc(hidden, 10, 3, None))

    def run(forward):
        probabilities = []
        for i in range(SAMPLES):
            x.set_value(features[i].reshape(4, 1))
            probabilities.append(np.asarray(forward(predict)).ravel())
        return np.array(probabilities)

    return run


LOOPS = {"adaline": adaline, "iris_evaluation": iris_evaluation}
