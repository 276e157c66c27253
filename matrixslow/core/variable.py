"""Variables: the graph's inputs and trainable parameters."""

import numpy as np

from .errors import GraphError, ShapeError
from .node import Node


class Variable(Node):
    """A node whose value is set from outside: an input, a label or a parameter.

    Parameters
    ----------
    dim : tuple of two ints
        The shape of one sample's value, for example ``(784, 1)``.
    init : bool, str or callable, default False
        How to fill the first value. ``True`` is the book's: normal numbers with
        standard deviation 0.001, which the book's programs and their results
        rely on. ``"glorot"`` scales them to the shape (standard deviation
        sqrt(2 / (rows + cols))), so that deep ReLU networks start neither
        saturated nor vanishing; the model zoo uses it. ``"zeros"`` and
        ``"ones"`` are what they say; a callable gets ``dim`` and returns the
        array. Random fills use NumPy's global generator, so
        ``np.random.seed`` makes them repeatable.
    trainable : bool, default True
        Whether optimizers update it. Trainable values are always one matrix.

    Inputs accept one sample of shape ``dim`` or a batch of shape ``(B, *dim)``.
    """

    def __init__(self, dim, init=False, trainable=True, **kargs):
        self.dim = _check_dim(dim, kargs.get("name"))
        super().__init__(**kargs)
        self.trainable = trainable
        self._own_value = None  # the array set_value made: only it may be changed in place
        if init is not False and init is not None:
            self.value = self._own_value = self._checked(initial_value(init, self.dim, self.describe()))

    def set_value(self, value):
        """Give the variable a new value and forget every value computed from the old one."""
        value = self._checked(value)
        self.reset_value()
        self.value = self._own_value = value

    def writable_value(self):
        """The value as an array this Variable alone holds, for an optimizer to change in place.

        ``set_value`` and ``init`` store copies, so this is ``value`` itself. An array put
        into ``.value`` directly (the caller's own, perhaps read-only) is copied once first,
        so that training never writes into it.
        """
        if self.value is not self._own_value or not self.value.flags.writeable:
            self.set_value(self.value)
        return self.value

    def adopt_storage(self, array):
        """Keep the value in ``array`` from now on (a view of an optimizer's flat buffer): copied in, then owned."""
        if array.shape != self.value.shape:
            raise ShapeError(
                f"{self.describe()}: storage of shape {array.shape} for a value of shape {self.value.shape}"
            )
        array[...] = self.value
        self.value = self._own_value = array

    def changed_in_place(self):
        """Forget every value computed from this one, after ``writable_value()`` was changed in place."""
        value = self.value
        self.reset_value()
        self.value = value

    def _checked(self, value):
        try:
            # A copy, so that changing the caller's array later cannot change the graph
            # behind its back; np.asarray would also turn np.matrix into an ndarray.
            value = np.array(value, dtype=self.graph.dtype, copy=True, subok=False)
        except (TypeError, ValueError) as error:
            raise ShapeError(f"{self.describe()}: set_value got a value that is not numeric ({error})") from None
        if value.shape == self.dim:
            return value
        if value.ndim == 3 and value.shape[1:] == self.dim and not self.trainable:
            return value
        batch_note = "" if self.trainable else f" or a batch (B, {self.dim[0]}, {self.dim[1]})"
        raise ShapeError(f"{self.describe()}: set_value got shape {value.shape}, expected dim {self.dim}{batch_note}")

    def compute(self):
        raise GraphError(f"{self.describe()} has no value: call set_value() before forward()")


BOOK_INIT_STD = 0.001  # the book's Variable(init=True): N(0, 0.001)


def initial_value(init, dim, where):
    """The first value of a Variable of shape ``dim`` for the ``init`` argument (see ``Variable``)."""
    if init is True:
        return np.random.normal(0.0, BOOK_INIT_STD, dim)
    if callable(init):
        return init(dim)
    if init == "glorot":
        return np.random.normal(0.0, np.sqrt(2.0 / (dim[0] + dim[1])), dim)
    if init == "zeros":
        return np.zeros(dim)
    if init == "ones":
        return np.ones(dim)
    raise ValueError(f"{where}: init must be True, False, 'glorot', 'zeros', 'ones' or a callable, got {init!r}")


def _check_dim(dim, name):
    if (
        not isinstance(dim, (tuple, list))
        or len(dim) != 2
        or not all(isinstance(d, (int, np.integer)) and d > 0 for d in dim)
    ):
        raise ShapeError(f"Variable '{name or '(unnamed)'}': dim must be two positive ints (rows, cols), got {dim!r}")
    return (int(dim[0]), int(dim[1]))
