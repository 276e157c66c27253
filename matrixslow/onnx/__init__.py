"""ONNX export: ``matrixslow.onnx.export(model, "model.onnx")`` writes a graph's forward pass for onnxruntime & co.

Needs the ``onnx`` extra (``pip install -e ".[onnx]"``); ``import matrixslow`` alone never imports it.
An operator of one's own exports once ``@matrixslow.onnx.converts(MyOperator)`` registers its
converter (see ``converters``: a function emitting the ONNX nodes and returning the sample shape).
"""

from ..extras import needs_extra
from .errors import OnnxExportError

with needs_extra("onnx", "matrixslow.onnx"):
    from .converters import converts
    from .export import BATCH, OPSET, export

__all__ = ["BATCH", "OPSET", "OnnxExportError", "converts", "export"]
