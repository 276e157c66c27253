"""The Elman recurrent network (book chapter 7), unrolled over a fixed number of steps."""

from dataclasses import dataclass, field

import numpy as np

from ..core.batching import as_batch
from ..core.errors import GraphError, ShapeError
from ..core.scope import name_scope
from ..core.variable import Variable
from ..layer import fc
from ..ops import Add, MatMul, ReLU, Tanh, Welding
from .base import Model
from .blocks import check_choice, check_positive, input_variable, softmax_head

ACTIVATIONS = {"ReLU": ReLU, "Tanh": Tanh}


@dataclass(kw_only=True, eq=False)
class RecurrentModel(Model):
    """An unrolled RNN: ``inputs`` are the step inputs x_0 ... x_{T-1}.

    Attributes
    ----------
    hiddens : list of Node
        The hidden states h_1 ... h_T (h after reading x_0, ..., x_{T-1}).
    welding : Welding or None
        With welding, the node the output layer reads; ``set_length`` moves it.
    length : int
        The number of steps the output currently reads.
    """

    hiddens: list = field(default_factory=list)
    welding: object = None
    length: int = 0

    def feed(self, x):
        """Split a data set's x of shape (N, T, features) into one (N, features, 1) batch per step input."""
        x = np.asarray(x)
        steps = len(self.inputs)
        if x.ndim < 2 or x.shape[1] != steps:
            raise ShapeError(f"{self.name}: x must be (N, {steps} steps, features), got shape {x.shape}")
        return {node.name: as_batch(node, x[:, step], self.name) for step, node in enumerate(self.inputs)}

    def set_length(self, length):
        """Read the output from h_length: a sequence of that length fills the first ``length`` step inputs.

        For the book's variable-length mode: set the length of each sample (or of
        a batch of equally long ones) before feeding it; the later step inputs are
        then not part of the graph's computation.
        """
        if self.welding is None:
            raise GraphError(f"{self.name}: set_length needs a model built with welding=True")
        is_int = isinstance(length, (int, np.integer)) and not isinstance(length, bool)
        if not is_int or not 1 <= length <= len(self.hiddens):
            raise ValueError(f"{self.name}: length must be an int from 1 to {len(self.hiddens)}, got {length!r}")
        self.welding.weld(self.hiddens[length - 1])
        self.length = int(length)


def rnn(seq_len, input_size, hidden_size, classes, welding=False, activation="ReLU"):
    """An Elman RNN classifier: h_t = act(W h_{t-1} + U x_t + b), h_0 = 0, output fc on the last h.

    Parameters
    ----------
    seq_len : int
        T, the number of step inputs "x_0" ... "x_{T-1}", each (input_size, 1).
    input_size, hidden_size, classes : int
    welding : bool, default False
        Read the output through a Welding node ("Output/last_hidden") so that
        ``set_length(L)`` makes a sequence of length L <= T end at h_L (the book's
        variable-length mode). It starts welded to h_T.
    activation : "ReLU" (leaky, slope 0.1) or "Tanh"

    Returns
    -------
    RecurrentModel
        The trainable Variables are "RNN/U" (hidden, input), "RNN/W"
        (hidden, hidden) and "RNN/b" (hidden, 1), shared by every step, and
        the output layer's in scope "Output"; one-hot labels, cross-entropy.
    """
    builder = "rnn"
    seq_len = check_positive(builder, "seq_len", seq_len)
    input_size = check_positive(builder, "input_size", input_size)
    hidden_size = check_positive(builder, "hidden_size", hidden_size)
    classes = check_positive(builder, "classes", classes)
    act = ACTIVATIONS[check_choice(builder, "activation", activation, ACTIVATIONS)]

    inputs = [input_variable((input_size, 1), f"x_{step}") for step in range(seq_len)]
    label = input_variable((classes, 1), "label")
    with name_scope("RNN"):
        u = Variable((hidden_size, input_size), init="glorot", trainable=True, name="U")
        w = Variable((hidden_size, hidden_size), init="glorot", trainable=True, name="W")
        b = Variable((hidden_size, 1), init=False, trainable=True, name="b")
        b.set_value(np.zeros((hidden_size, 1)))
        hiddens = []
        for x in inputs:
            # h_0 is zero, so the first step has no W h term at all (as in the book).
            terms = [MatMul(u, x), b] + ([MatMul(w, hiddens[-1])] if hiddens else [])
            hiddens.append(act(Add(*terms)))
    with name_scope("Output"):
        last = Welding(hiddens[-1], name="last_hidden") if welding else hiddens[-1]
        logits = fc(last, hidden_size, classes, None, weights_init="glorot", bias_init="zeros")
    return RecurrentModel(
        name=builder,
        inputs=inputs,
        label=label,
        **softmax_head(logits, label),
        hiddens=hiddens,
        welding=last if welding else None,
        length=seq_len,
    )
