"""v2 tensors to arrays and back: datatypes, row-major values, raw little-endian bytes, and what is refused."""

import numpy as np
import pytest

from matrixslow.serving.errors import InvalidRequest
from matrixslow.serving.v2_tensors import (
    CONTENTS_FIELDS,
    DTYPES,
    checked_shape,
    datatype_of,
    dtype_of,
    from_raw,
    from_values,
    to_raw,
)


@pytest.mark.parametrize("datatype", list(DTYPES))
def test_every_datatype_round_trips_through_raw_bytes(datatype):
    values = np.arange(6).reshape(2, 3).astype(DTYPES[datatype])
    assert datatype_of(values.dtype) == datatype
    back = from_raw(to_raw(values), datatype, (2, 3), "t")
    assert back.dtype == values.dtype and back.shape == (2, 3)
    np.testing.assert_array_equal(back, values)


def test_raw_bytes_are_little_endian_whatever_the_arrays_byte_order():
    big = np.array([1.5, -2.0], dtype=">f8")
    assert to_raw(big) == np.array([1.5, -2.0], dtype="<f8").tobytes()
    np.testing.assert_array_equal(from_raw(to_raw(big), "FP64", (2,), "t"), [1.5, -2.0])


def test_a_part_of_a_buffer_is_viewed_at_its_offset():
    buffer = b"\x00" * 3 + np.array([1.0, 2.0], "<f4").tobytes() + b"\xff"
    np.testing.assert_array_equal(from_raw(buffer, "FP32", (2,), "t", offset=3, size=8), [1.0, 2.0])


def test_flat_and_nested_values_give_the_same_row_major_array():
    flat = from_values([1, 2, 3, 4, 5, 6], "FP64", (2, 3, 1), "x")
    nested = from_values([[[1], [2], [3]], [[4], [5], [6]]], "FP64", (2, 3, 1), "x")
    np.testing.assert_array_equal(flat, nested)
    np.testing.assert_array_equal(flat[1, :, 0], [4, 5, 6])
    assert from_values([1, 2], "FP32", (2,), "x").dtype == np.float32


def test_a_byte_count_that_is_not_the_shapes_is_refused_naming_both():
    with pytest.raises(InvalidRequest, match=r"input 'x': raw contents hold 7 bytes, but shape \[2, 1\] of FP32 "):
        from_raw(b"\x00" * 7, "FP32", (2, 1), "x")


def test_a_value_count_that_is_not_the_shapes_is_refused_naming_both():
    with pytest.raises(InvalidRequest, match=r"input 'x': shape \[2, 2\] takes 4 values, but its data holds 3"):
        from_values([1, 2, 3], "FP64", (2, 2), "x")


@pytest.mark.parametrize("datatype", ["BYTES", "FP8", ""])
def test_strings_and_unknown_datatypes_are_refused_naming_the_input(datatype):
    with pytest.raises(InvalidRequest, match="input 'x': .*FP32 or FP64"):
        dtype_of(datatype, "x")


@pytest.mark.parametrize("shape", [[2, -1], [1.5], [True]])
def test_a_shape_must_be_integers_of_at_least_zero(shape):
    with pytest.raises(InvalidRequest, match="input 'x': shape"):
        checked_shape(shape, "x")


def test_a_shape_of_floats_that_are_integers_is_read_as_ints():
    assert checked_shape(np.array([3.0, 4.0, 1.0]), "x") == (3, 4, 1)


def test_every_datatype_but_fp16_has_a_contents_field():
    assert set(DTYPES) - set(CONTENTS_FIELDS) == {"FP16"}
