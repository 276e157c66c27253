"""Layers built from operators."""

from .layer import conv, fc, pooling

__all__ = ["conv", "fc", "pooling"]
