"""The classic model zoo as graph builders.

Every builder adds its nodes to the current default graph (build inside
``with ms.core.Graph() as g:``) and returns a ``Model``: its inputs, label,
logits, prediction and per-sample loss, and ``feed(x)``, which splits a data
set's x into the batches of its input nodes. Weights start from NumPy's global
generator, so ``np.random.seed`` makes a build repeatable. One model per graph:
the input nodes have fixed names ("x", "label", "x_0", field names).
"""

from .base import Model
from .cnn import cnn
from .deepfm import deepfm
from .dnn import dnn
from .fields import FieldModel
from .fm import factorization_machine
from .linear import linear_regression, logistic_regression, perceptron, softmax_regression
from .rnn import RecurrentModel, rnn
from .wide_and_deep import wide_and_deep

# Every builder by its name (which is also its models' ``name``).
BUILDERS = {
    builder.__name__: builder
    for builder in (
        logistic_regression,
        softmax_regression,
        perceptron,
        linear_regression,
        factorization_machine,
        dnn,
        cnn,
        rnn,
        wide_and_deep,
        deepfm,
    )
}

__all__ = [
    "BUILDERS",
    "FieldModel",
    "Model",
    "RecurrentModel",
    "cnn",
    "deepfm",
    "dnn",
    "factorization_machine",
    "linear_regression",
    "logistic_regression",
    "perceptron",
    "rnn",
    "softmax_regression",
    "wide_and_deep",
]
