"""The ONNX graph being written: its nodes, its initializers and fresh tensor names."""

from dataclasses import dataclass

import numpy as np
from onnx import helper, numpy_helper  # the PyPI package "onnx" (an absolute import), not this matrixslow.onnx


@dataclass(frozen=True)
class Tensor:
    """The ONNX tensor that stands for one node's value.

    Attributes
    ----------
    name : str
        The tensor's name: the node's own name for a node's value.
    shape : tuple of two ints
        One sample's (rows, cols).
    batched : bool
        True for a value of one matrix per sample, (batch, rows, cols); False for one matrix
        shared by every sample, (rows, cols): a weight, a constant, or anything computed
        from those only. The same two layouts as the engine's values, so that ONNX
        broadcasting pairs a shared matrix with a batch exactly as NumPy does.
    """

    name: str
    shape: tuple
    batched: bool


class Emitter:
    """Collects the ONNX nodes and initializers of one export.

    Parameters
    ----------
    dtype : float32 or float64
        The float type of every float tensor (the graph's).
    taken : iterable of str
        Names that are not free: the matrixslow node names, which name the nodes' values.
    """

    def __init__(self, dtype, taken):
        self.dtype = np.dtype(dtype)
        self.elem_type = helper.np_dtype_to_tensor_dtype(self.dtype)
        self.nodes = []
        self.initializers = []
        self.where = "export"  # the node being converted: the prefix of the names of its helper tensors
        self._taken = set(taken)
        self._constants = {}

    def fresh(self, base):
        """A name starting with ``base`` that no node and no tensor written so far has."""
        name, count = base, 0
        while name in self._taken:
            count += 1
            name = f"{base}:{count}"
        self._taken.add(name)
        return name

    def op(self, op_type, inputs, output=None, **attributes):
        """Append one ONNX node; return the name of its output (a fresh one unless ``output`` is given)."""
        output = output or self.fresh(f"{self.where}/{op_type}")
        self.nodes.append(helper.make_node(op_type, list(inputs), [output], name=output, **attributes))
        return output

    def constant(self, values, dtype=None):
        """The name of an initializer holding ``values``, in the graph's float type unless ``dtype`` is given.

        Equal constants (the axes of every ReduceSum, a zero) share one initializer.
        """
        array = np.asarray(values, dtype=dtype or self.dtype)
        key = (array.dtype.str, array.shape, array.tobytes())
        if key not in self._constants:
            self._constants[key] = self.initializer(self.fresh("constant"), array)
        return self._constants[key]

    def shape_constant(self, values):
        """An int64 initializer: the shapes, axes, pads and slice bounds ONNX operators take as inputs."""
        return self.constant(values, np.int64)

    def initializer(self, name, array):
        self.initializers.append(numpy_helper.from_array(np.asarray(array), name))
        return name
