"""Layers built from operators."""

from .embedding import embedding
from .layer import conv, fc, pooling

__all__ = ["conv", "embedding", "fc", "pooling"]
