"""NumPy arrays on the wire, shared by distributed training (``matrixslow.dist``) and serving (``matrixslow.serving``).

- ``matrixslow.codec.tensors``: arrays to ``Tensor`` messages and back (raw little-endian bytes),
  the data room per message under gRPC's size limit, channel and server options, ``bind``.
- ``matrixslow.codec.wire``: big ``bytes`` fields spliced into protobuf messages by hand and read
  back as views, so megabytes of tensor data are copied once.
- ``matrixslow.codec.proto``: the ``Tensor`` message (generated code committed).

Needs protobuf and gRPC, which the ``dist`` and ``serving`` extras both install; ``import
matrixslow`` never imports this package.
"""
