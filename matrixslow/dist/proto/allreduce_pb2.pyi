from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Phase(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PHASE_UNSPECIFIED: _ClassVar[Phase]
    SCATTER_REDUCE: _ClassVar[Phase]
    ALL_GATHER: _ClassVar[Phase]
PHASE_UNSPECIFIED: Phase
SCATTER_REDUCE: Phase
ALL_GATHER: Phase

class AbortRequest(_message.Message):
    __slots__ = ("sender", "reason")
    SENDER_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    sender: int
    reason: str
    def __init__(self, sender: _Optional[int] = ..., reason: _Optional[str] = ...) -> None: ...

class HelloRequest(_message.Message):
    __slots__ = ("sender", "world_size")
    SENDER_FIELD_NUMBER: _ClassVar[int]
    WORLD_SIZE_FIELD_NUMBER: _ClassVar[int]
    sender: int
    world_size: int
    def __init__(self, sender: _Optional[int] = ..., world_size: _Optional[int] = ...) -> None: ...

class HelloReply(_message.Message):
    __slots__ = ("rank", "world_size", "ready")
    RANK_FIELD_NUMBER: _ClassVar[int]
    WORLD_SIZE_FIELD_NUMBER: _ClassVar[int]
    READY_FIELD_NUMBER: _ClassVar[int]
    rank: int
    world_size: int
    ready: bool
    def __init__(self, rank: _Optional[int] = ..., world_size: _Optional[int] = ..., ready: _Optional[bool] = ...) -> None: ...

class Chunk(_message.Message):
    __slots__ = ("step", "phase", "sender", "sequence", "segment", "part", "part_count", "sample_count", "offset", "dtype", "data")
    STEP_FIELD_NUMBER: _ClassVar[int]
    PHASE_FIELD_NUMBER: _ClassVar[int]
    SENDER_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    SEGMENT_FIELD_NUMBER: _ClassVar[int]
    PART_FIELD_NUMBER: _ClassVar[int]
    PART_COUNT_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_COUNT_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    DTYPE_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    step: int
    phase: Phase
    sender: int
    sequence: int
    segment: int
    part: int
    part_count: int
    sample_count: int
    offset: int
    dtype: str
    data: bytes
    def __init__(self, step: _Optional[int] = ..., phase: _Optional[_Union[Phase, str]] = ..., sender: _Optional[int] = ..., sequence: _Optional[int] = ..., segment: _Optional[int] = ..., part: _Optional[int] = ..., part_count: _Optional[int] = ..., sample_count: _Optional[int] = ..., offset: _Optional[int] = ..., dtype: _Optional[str] = ..., data: _Optional[bytes] = ...) -> None: ...

class ChunkAck(_message.Message):
    __slots__ = ("accepted",)
    ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    accepted: bool
    def __init__(self, accepted: _Optional[bool] = ...) -> None: ...
