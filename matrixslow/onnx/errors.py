"""The error of an export that cannot be written."""


class OnnxExportError(ValueError):
    """A graph, an input or an output that has no ONNX form; the message names the node (its operator and name)."""
