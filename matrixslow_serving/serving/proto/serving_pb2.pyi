from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Matrix(_message.Message):
    __slots__ = ("value", "dim")
    VALUE_FIELD_NUMBER: _ClassVar[int]
    DIM_FIELD_NUMBER: _ClassVar[int]
    value: _containers.RepeatedScalarFieldContainer[float]
    dim: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, value: _Optional[_Iterable[float]] = ..., dim: _Optional[_Iterable[int]] = ...) -> None: ...

class PredictReq(_message.Message):
    __slots__ = ("data",)
    DATA_FIELD_NUMBER: _ClassVar[int]
    data: _containers.RepeatedCompositeFieldContainer[Matrix]
    def __init__(self, data: _Optional[_Iterable[_Union[Matrix, _Mapping]]] = ...) -> None: ...

class PredictResp(_message.Message):
    __slots__ = ("data",)
    DATA_FIELD_NUMBER: _ClassVar[int]
    data: _containers.RepeatedCompositeFieldContainer[Matrix]
    def __init__(self, data: _Optional[_Iterable[_Union[Matrix, _Mapping]]] = ...) -> None: ...
