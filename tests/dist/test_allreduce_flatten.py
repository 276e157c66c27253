"""flatten_arrays / unflatten_arrays: one buffer in sorted name order, and back."""

import numpy as np
import pytest

from matrixslow.dist.allreduce import flatten_arrays, unflatten_arrays


def test_the_buffer_follows_sorted_names_whatever_the_dict_order():
    arrays = {"w": np.full((2, 3), 2.0), "b": np.array([[1.0]]), "scalar": np.float64(3.0)}
    shuffled = dict(reversed(list(arrays.items())))
    buffer, layout = flatten_arrays(arrays)
    buffer_again, layout_again = flatten_arrays(shuffled)
    # b (1 element), scalar (1), w (6), written out by hand.
    assert buffer.tolist() == [1.0, 3.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0]
    assert np.array_equal(buffer_again, buffer)
    assert layout == layout_again
    assert [slot.name for slot in layout] == ["b", "scalar", "w"]


def test_unflatten_restores_every_name_and_shape():
    rng = np.random.default_rng(0)
    arrays = {"k": rng.normal(size=(3, 5, 11)), "a": rng.normal(size=(7, 13)), "s": np.float64(1.5)}
    buffer, layout = flatten_arrays(arrays)
    restored = unflatten_arrays(buffer, layout)
    assert sorted(restored) == sorted(arrays)
    for name, array in arrays.items():
        assert restored[name].shape == np.shape(array)
        assert np.array_equal(restored[name], array)
    assert buffer.size == 165 + 91 + 1


def test_dtype_is_common_or_requested():
    arrays = {"a": np.ones(2, np.float32), "b": np.ones(3, np.float64)}
    assert flatten_arrays(arrays)[0].dtype == np.float64
    assert flatten_arrays(arrays, dtype=np.float32)[0].dtype == np.float32
    assert flatten_arrays({})[0].size == 0


def test_a_buffer_of_the_wrong_size_is_refused_with_the_expected_size():
    _, layout = flatten_arrays({"w": np.zeros((2, 3))})
    with pytest.raises(ValueError, match="expected a 1-D buffer of 6 elements"):
        unflatten_arrays(np.zeros(5), layout)
