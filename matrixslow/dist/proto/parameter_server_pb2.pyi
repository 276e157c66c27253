from matrixslow.dist.proto import tensor_pb2 as _tensor_pb2
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

class InitRequest(_message.Message):
    __slots__ = ("worker", "variables")
    WORKER_FIELD_NUMBER: _ClassVar[int]
    VARIABLES_FIELD_NUMBER: _ClassVar[int]
    worker: int
    variables: _containers.RepeatedCompositeFieldContainer[_tensor_pb2.NamedTensor]
    def __init__(self, worker: _Optional[int] = ..., variables: _Optional[_Iterable[_Union[_tensor_pb2.NamedTensor, _Mapping]]] = ...) -> None: ...

class InitReply(_message.Message):
    __slots__ = ("variables", "step")
    VARIABLES_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    variables: _containers.RepeatedCompositeFieldContainer[_tensor_pb2.NamedTensor]
    step: int
    def __init__(self, variables: _Optional[_Iterable[_Union[_tensor_pb2.NamedTensor, _Mapping]]] = ..., step: _Optional[int] = ...) -> None: ...

class PushRequest(_message.Message):
    __slots__ = ("worker", "step", "gradients", "sample_count")
    WORKER_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    GRADIENTS_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_COUNT_FIELD_NUMBER: _ClassVar[int]
    worker: int
    step: int
    gradients: _containers.RepeatedCompositeFieldContainer[_tensor_pb2.NamedTensor]
    sample_count: int
    def __init__(self, worker: _Optional[int] = ..., step: _Optional[int] = ..., gradients: _Optional[_Iterable[_Union[_tensor_pb2.NamedTensor, _Mapping]]] = ..., sample_count: _Optional[int] = ...) -> None: ...

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
    __slots__ = ("worker", "step", "names", "content")
    WORKER_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    NAMES_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    worker: int
    step: int
    names: _containers.RepeatedScalarFieldContainer[str]
    content: PullContent
    def __init__(self, worker: _Optional[int] = ..., step: _Optional[int] = ..., names: _Optional[_Iterable[str]] = ..., content: _Optional[_Union[PullContent, str]] = ...) -> None: ...

class PullReply(_message.Message):
    __slots__ = ("step", "sample_count", "tensors", "ready", "missing_workers")
    STEP_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_COUNT_FIELD_NUMBER: _ClassVar[int]
    TENSORS_FIELD_NUMBER: _ClassVar[int]
    READY_FIELD_NUMBER: _ClassVar[int]
    MISSING_WORKERS_FIELD_NUMBER: _ClassVar[int]
    step: int
    sample_count: int
    tensors: _containers.RepeatedCompositeFieldContainer[_tensor_pb2.NamedTensor]
    ready: bool
    missing_workers: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, step: _Optional[int] = ..., sample_count: _Optional[int] = ..., tensors: _Optional[_Iterable[_Union[_tensor_pb2.NamedTensor, _Mapping]]] = ..., ready: _Optional[bool] = ..., missing_workers: _Optional[_Iterable[int]] = ...) -> None: ...
