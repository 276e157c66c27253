"""The embedding layer: a trainable matrix that maps a one-hot (or multi-hot) field to a dense vector."""

from ..core.variable import Variable
from ..ops import MatMul


def embedding(input, input_size, size, init="glorot"):
    """Embed a field: E x with E of shape (size, input_size).

    For a one-hot ``input`` the product picks one column of E (a look-up); for a
    multi-hot one it sums the columns of the active values; for real values it
    weights them. Written as a MatMul so that batches are one matrix product.

    Parameters
    ----------
    input : Node
        A (input_size, 1) column per sample.
    input_size : int
        Number of values of the field (the columns of E).
    size : int
        Length of the embedding vector (the rows of E).

    Returns
    -------
    Node
        The (size, 1) embedding of each sample. E starts scaled to its shape
        (``init="glorot"``; any ``Variable(init=...)`` choice is accepted).
    """
    weights = Variable((size, input_size), init=init, trainable=True)
    return MatMul(weights, input)
