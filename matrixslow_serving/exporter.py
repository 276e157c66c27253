"""``matrixslow_serving.exporter.Exporter``, the book's name for ``serving.Exporter``."""

from matrixslow.serving.exporter import Exporter

__all__ = ["Exporter"]
