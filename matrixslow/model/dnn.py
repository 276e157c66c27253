"""The multilayer perceptron (book chapter 5): fully connected hidden layers and a SoftMax output."""

from ..core.scope import name_scope
from ..layer import fc
from .base import Model
from .blocks import check_choice, check_positive, check_sizes, hidden_layers, input_variable, softmax_head

ACTIVATIONS = ("ReLU", "Logistic", "Tanh")


def dnn(input_size, hidden_sizes, classes, activation="ReLU"):
    """A fully connected classifier: x -> Hidden1 -> ... -> Output (classes), one-hot labels.

    Parameters
    ----------
    input_size : int
    hidden_sizes : list of int
        Width of each hidden layer, in scopes "Hidden1", "Hidden2", ...; empty
        gives softmax regression.
    classes : int
        Width of the output layer (scope "Output"); 2 classes also use SoftMax.
    activation : "ReLU" (leaky, slope 0.1), "Logistic" or "Tanh"
    """
    builder = "dnn"
    input_size, classes = check_positive(builder, "input_size", input_size), check_positive(builder, "classes", classes)
    hidden_sizes = check_sizes(builder, "hidden_sizes", hidden_sizes)
    check_choice(builder, "activation", activation, ACTIVATIONS)

    x = input_variable((input_size, 1), "x")
    label = input_variable((classes, 1), "label")
    hidden, width = hidden_layers(x, input_size, hidden_sizes, activation)
    with name_scope("Output"):
        logits = fc(hidden, width, classes, None, weights_init="glorot", bias_init="zeros")
    return Model(
        name=builder,
        inputs=[x],
        label=label,
        **softmax_head(logits, label),
    )
