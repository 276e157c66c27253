"""Distributed training over gRPC: the wire protocol and its helpers.

Needs the optional ``dist`` extra (``pip install matrixslow[dist]``); ``import matrixslow``
never imports this package, so the engine runs without gRPC installed.

``matrixslow.dist.proto`` holds the message and service definitions,
``matrixslow.dist.tensors`` turns NumPy arrays into ``Tensor`` messages and back.
"""
