from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PullContent(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MEAN_GRADIENTS: _ClassVar[PullContent]
    VALUES: _ClassVar[PullContent]
MEAN_GRADIENTS: PullContent
VALUES: PullContent

class TensorPart(_message.Message):
    __slots__ = ("name", "dtype", "shape", "offset", "data")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DTYPE_FIELD_NUMBER: _ClassVar[int]
    SHAPE_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    name: str
    dtype: str
    shape: _containers.RepeatedScalarFieldContainer[int]
    offset: int
    data: bytes
    def __init__(self, name: _Optional[str] = ..., dtype: _Optional[str] = ..., shape: _Optional[_Iterable[int]] = ..., offset: _Optional[int] = ..., data: _Optional[bytes] = ...) -> None: ...

class InitHeader(_message.Message):
    __slots__ = ("worker", "session", "join_only")
    WORKER_FIELD_NUMBER: _ClassVar[int]
    SESSION_FIELD_NUMBER: _ClassVar[int]
    JOIN_ONLY_FIELD_NUMBER: _ClassVar[int]
    worker: int
    session: int
    join_only: bool
    def __init__(self, worker: _Optional[int] = ..., session: _Optional[int] = ..., join_only: _Optional[bool] = ...) -> None: ...

class InitPart(_message.Message):
    __slots__ = ("header", "variables")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    VARIABLES_FIELD_NUMBER: _ClassVar[int]
    header: InitHeader
    variables: _containers.RepeatedCompositeFieldContainer[TensorPart]
    def __init__(self, header: _Optional[_Union[InitHeader, _Mapping]] = ..., variables: _Optional[_Iterable[_Union[TensorPart, _Mapping]]] = ...) -> None: ...

class PushHeader(_message.Message):
    __slots__ = ("worker", "step", "sample_count", "session")
    WORKER_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_COUNT_FIELD_NUMBER: _ClassVar[int]
    SESSION_FIELD_NUMBER: _ClassVar[int]
    worker: int
    step: int
    sample_count: int
    session: int
    def __init__(self, worker: _Optional[int] = ..., step: _Optional[int] = ..., sample_count: _Optional[int] = ..., session: _Optional[int] = ...) -> None: ...

class PushPart(_message.Message):
    __slots__ = ("header", "gradients")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    GRADIENTS_FIELD_NUMBER: _ClassVar[int]
    header: PushHeader
    gradients: _containers.RepeatedCompositeFieldContainer[TensorPart]
    def __init__(self, header: _Optional[_Union[PushHeader, _Mapping]] = ..., gradients: _Optional[_Iterable[_Union[TensorPart, _Mapping]]] = ...) -> None: ...

class PushReply(_message.Message):
    __slots__ = ("accepted", "server_step", "reason")
    ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    SERVER_STEP_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    accepted: bool
    server_step: int
    reason: str
    def __init__(self, accepted: _Optional[bool] = ..., server_step: _Optional[int] = ..., reason: _Optional[str] = ...) -> None: ...

class PullRequest(_message.Message):
    __slots__ = ("worker", "step", "names", "content", "session")
    WORKER_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    NAMES_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    SESSION_FIELD_NUMBER: _ClassVar[int]
    worker: int
    step: int
    names: _containers.RepeatedScalarFieldContainer[str]
    content: PullContent
    session: int
    def __init__(self, worker: _Optional[int] = ..., step: _Optional[int] = ..., names: _Optional[_Iterable[str]] = ..., content: _Optional[_Union[PullContent, str]] = ..., session: _Optional[int] = ...) -> None: ...

class PullHeader(_message.Message):
    __slots__ = ("step", "sample_count", "ready", "missing_workers")
    STEP_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_COUNT_FIELD_NUMBER: _ClassVar[int]
    READY_FIELD_NUMBER: _ClassVar[int]
    MISSING_WORKERS_FIELD_NUMBER: _ClassVar[int]
    step: int
    sample_count: int
    ready: bool
    missing_workers: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, step: _Optional[int] = ..., sample_count: _Optional[int] = ..., ready: _Optional[bool] = ..., missing_workers: _Optional[_Iterable[int]] = ...) -> None: ...

class PullPart(_message.Message):
    __slots__ = ("header", "tensors")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    TENSORS_FIELD_NUMBER: _ClassVar[int]
    header: PullHeader
    tensors: _containers.RepeatedCompositeFieldContainer[TensorPart]
    def __init__(self, header: _Optional[_Union[PullHeader, _Mapping]] = ..., tensors: _Optional[_Iterable[_Union[TensorPart, _Mapping]]] = ...) -> None: ...

class LeaveRequest(_message.Message):
    __slots__ = ("worker", "session")
    WORKER_FIELD_NUMBER: _ClassVar[int]
    SESSION_FIELD_NUMBER: _ClassVar[int]
    worker: int
    session: int
    def __init__(self, worker: _Optional[int] = ..., session: _Optional[int] = ...) -> None: ...

class LeaveReply(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...
