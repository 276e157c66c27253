"""Linear models (book chapters 2-4): one affine map w x + b with four different heads."""

from ..core.scope import name_scope
from ..layer import fc
from ..ops import Multiply, Step
from ..ops.loss import MeanSquaredError, PerceptionLoss
from .base import Model
from .blocks import binary_head, check_positive, input_variable, softmax_head


def _affine(builder, input_size, size):
    """The input "x" (input_size, 1) and the output W x + b (size, 1) in scope "Linear"."""
    input_size = check_positive(builder, "input_size", input_size)
    x = input_variable((input_size, 1), "x")
    with name_scope("Linear"):
        output = fc(x, input_size, size, None, weights_init="glorot", bias_init="zeros")
    return x, output


def logistic_regression(input_size):
    """Binary logistic regression: predict = Logistic(w x + b), labels in {0, 1}, LogLoss."""
    x, logit = _affine("logistic_regression", input_size, 1)
    label = input_variable((1, 1), "label")
    return Model(
        name="logistic_regression",
        inputs=[x],
        label=label,
        **binary_head(logit, label),
    )


def softmax_regression(input_size, classes):
    """Multi-class logistic regression: SoftMax(W x + b), one-hot (classes, 1) labels, cross-entropy."""
    classes = check_positive("softmax_regression", "classes", classes)
    x, logits = _affine("softmax_regression", input_size, classes)
    label = input_variable((classes, 1), "label")
    return Model(
        name="softmax_regression",
        inputs=[x],
        label=label,
        **softmax_head(logits, label),
    )


def perceptron(input_size):
    """The perceptron (ADALINE in the book): output w x + b, labels in {-1, 1}.

    The loss is PerceptionLoss(label * output): zero for a sample on the right
    side, -label * output otherwise. predict = Step(output): 1 means class +1,
    0 means class -1.
    """
    x, output = _affine("perceptron", input_size, 1)
    label = input_variable((1, 1), "label")
    return Model(
        name="perceptron",
        inputs=[x],
        label=label,
        logits=output,
        predict=Step(output, name="predict"),
        loss=PerceptionLoss(Multiply(label, output), name="loss"),
    )


def linear_regression(input_size):
    """Linear regression: predict = w x + b (the output itself), mean squared error."""
    x, output = _affine("linear_regression", input_size, 1)
    label = input_variable((1, 1), "label")
    return Model(
        name="linear_regression",
        inputs=[x],
        label=label,
        logits=output,
        predict=output,
        loss=MeanSquaredError(output, label, name="loss"),
    )
