"""Tensors of the Open Inference Protocol (KServe v2) to arrays and back, for the REST and gRPC front ends.

A v2 tensor is a ``name``, a ``datatype`` ("FP32", "INT64", ...), a ``shape`` and its values:
row-major numbers (JSON ``data``, flat or nested; gRPC ``contents``) or raw little-endian bytes
(gRPC ``raw_input_contents``, REST binary data). Here they become numpy arrays of that datatype;
whether the model takes them is for ``serving.validation`` to say, as for every request (it takes
FP32 and FP64). BYTES (strings) has no array form here and is refused by name.
"""

import math

import numpy as np

from .errors import InvalidRequest, shown

# v2 datatype -> numpy dtype name; BYTES is the protocol's only other datatype.
DTYPES = {
    "BOOL": "bool",
    "UINT8": "uint8",
    "UINT16": "uint16",
    "UINT32": "uint32",
    "UINT64": "uint64",
    "INT8": "int8",
    "INT16": "int16",
    "INT32": "int32",
    "INT64": "int64",
    "FP16": "float16",
    "FP32": "float32",
    "FP64": "float64",
}
DATATYPES = {dtype: datatype for datatype, dtype in DTYPES.items()}

# The field of gRPC's InferTensorContents that holds each datatype's values (FP16 travels raw only).
CONTENTS_FIELDS = {
    "BOOL": "bool_contents",
    "UINT8": "uint_contents",
    "UINT16": "uint_contents",
    "UINT32": "uint_contents",
    "UINT64": "uint64_contents",
    "INT8": "int_contents",
    "INT16": "int_contents",
    "INT32": "int_contents",
    "INT64": "int64_contents",
    "FP32": "fp32_contents",
    "FP64": "fp64_contents",
}

# Most axes a shape may have: a batch is 3; anything near this is a client's mistake, not a tensor.
MAX_AXES = 32


def datatype_of(dtype):
    """The v2 datatype of a numpy ``dtype`` ("FP64" for float64)."""
    return DATATYPES[np.dtype(dtype).name]


def dtype_of(datatype, name):
    """The numpy dtype of v2 ``datatype``; InvalidRequest naming the input ``name`` for BYTES or an unknown one."""
    dtype = DTYPES.get(datatype)
    if dtype is None:
        what = "strings (BYTES) are" if datatype == "BYTES" else f"datatype {shown(datatype)} is"
        raise InvalidRequest(
            f"input {shown(name)}: {what} not accepted; send FP32 or FP64 (the v2 datatypes are {', '.join(DTYPES)})"
        )
    return np.dtype(dtype)


def checked_shape(shape, name):
    """``shape`` (a sequence of numbers) as a tuple of ints; InvalidRequest naming ``name`` unless each is >= 0."""
    shape = list(shape)
    if len(shape) > MAX_AXES:
        raise InvalidRequest(f"input {shown(name)}: shape has {len(shape)} axes, more than {MAX_AXES}")
    dims = []
    for dim in shape:
        if isinstance(dim, bool) or not float(dim).is_integer() or dim < 0:
            raise InvalidRequest(f"input {shown(name)}: shape {shape} must be a list of integers >= 0")
        dims.append(int(dim))
    return tuple(dims)


def element_count(shape):
    return math.prod(shape)


def from_raw(raw, datatype, shape, name, offset=0, size=None):
    """The array of ``datatype`` and ``shape`` held in ``raw`` (bytes-like, little-endian, row-major).

    ``offset`` and ``size`` pick a part of ``raw`` (REST binary data); the array is a view, not a copy.
    InvalidRequest naming ``name`` when the byte count is not the shape's.
    """
    dtype = dtype_of(datatype, name).newbyteorder("<")
    size = len(raw) - offset if size is None else size
    expected = element_count(shape) * dtype.itemsize
    if size != expected:
        raise InvalidRequest(
            f"input {shown(name)}: raw contents hold {size} bytes, but shape {list(shape)} of {datatype} "
            f"takes {expected} bytes ({element_count(shape)} values of {dtype.itemsize} bytes)"
        )
    return np.frombuffer(raw, dtype, element_count(shape), offset).reshape(shape)


def from_values(values, datatype, shape, name):
    """The array of ``datatype`` and ``shape`` of ``values`` (numbers, flat or nested, row-major).

    InvalidRequest naming ``name`` when the number of values is not the shape's.
    """
    dtype = dtype_of(datatype, name)
    values = np.asarray(values)
    if values.size != element_count(shape):
        raise InvalidRequest(
            f"input {shown(name)}: shape {list(shape)} takes {element_count(shape)} values, "
            f"but its data holds {values.size}"
        )
    with np.errstate(over="ignore", invalid="ignore"):  # out of the datatype's range: validation names it
        return values.astype(dtype, copy=False).reshape(shape)


def to_raw(array):
    """``array``'s values as little-endian row-major bytes, as raw_output_contents and REST binary data hold them."""
    return np.ascontiguousarray(array, array.dtype.newbyteorder("<")).tobytes()
