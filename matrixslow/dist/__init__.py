"""Distributed training over gRPC.

Needs the optional ``dist`` extra (``pip install -e ".[dist]"`` in the checkout): without it the
first import that needs gRPC raises ``matrixslow.extras.MissingExtraError``, which says so. ``import
matrixslow`` never imports this package, so the engine runs without gRPC installed.

- ``matrixslow.dist.proto``: the message and service definitions (generated code committed); arrays
  travel as the raw bytes of ``matrixslow.codec``, which serving shares.
- ``matrixslow.dist.allreduce``: the ring allreduce (reduce-scatter then all-gather).
- ``matrixslow.dist.ps``: the parameter server (sync and async), sharded by bytes.
- ``matrixslow.dist.trainers``: ``DistTrainerRingAllReduce`` and ``DistTrainerParameterServer``,
  the book's distributed trainers, equal to single-process training on the union of the shards.
"""
