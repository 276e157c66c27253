"""check_request: every bad input is an InvalidRequest naming the input and the shape it takes."""

import numpy as np
import pytest

import matrixslow as ms
from matrixslow.serving.errors import InvalidRequest
from matrixslow.serving.model_store import load_version
from matrixslow.serving.validation import check_request

from .support import export

EXPECTED_X = r"input 'x' takes one sample of shape \(3, 2\) or a batch of shape \(B, 3, 2\)"


@pytest.fixture
def two_input_model(tmp_path):
    """A model of two inputs: x (3, 2) and y (2, 1); output Output = MatMul(x, y)."""

    def build():
        x = ms.Variable((3, 2), init=False, trainable=False, name="x")
        y = ms.Variable((2, 1), init=False, trainable=False, name="y")
        product = ms.ops.MatMul(x, y, name="predict")

        class Model:
            inputs, predict = [x, y], product

        return Model

    export(tmp_path, 1, build)
    return load_version(tmp_path, 1)


def good(batch=None):
    rng = np.random.default_rng(0)
    shape = lambda dim: dim if batch is None else (batch, *dim)  # noqa: E731
    return {"x": rng.normal(size=shape((3, 2))), "y": rng.normal(size=shape((2, 1)))}


def test_one_sample_becomes_a_batch_of_one(two_input_model):
    inputs = good()
    checked = check_request(two_input_model, inputs)
    assert checked.single and checked.size == 1 and checked.output_names == ["predict"]
    np.testing.assert_array_equal(checked.batch["x"], inputs["x"][None])


def test_a_batch_keeps_its_size_and_float32_becomes_the_models_dtype(two_input_model):
    inputs = {name: value.astype(np.float32) for name, value in good(batch=5).items()}
    checked = check_request(two_input_model, inputs)
    assert not checked.single and checked.size == 5
    assert checked.batch["y"].dtype == np.float64
    np.testing.assert_array_equal(checked.batch["y"], inputs["y"].astype(np.float64))


def _with(**changes):
    inputs = good(batch=2)
    inputs.update(changes)
    return {name: value for name, value in inputs.items() if value is not None}


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ({}, "empty request: no input tensors; " + EXPECTED_X),
        (_with(z=np.zeros((2, 3, 2))), "unknown input 'z'; the model's inputs are \\['x', 'y'\\]: " + EXPECTED_X),
        (_with(y=None), r"missing input 'y': input 'y' takes one sample of shape \(2, 1\)"),
        (_with(x=np.zeros((2, 2, 3))), r"input 'x': got shape \(2, 2, 3\); " + EXPECTED_X),
        (_with(x=np.zeros((2, 6))), r"input 'x': got shape \(2, 6\); " + EXPECTED_X),
        (_with(x=np.zeros((2, 3, 2, 1))), r"input 'x': got shape \(2, 3, 2, 1\); " + EXPECTED_X),
        (_with(x=np.zeros((0, 3, 2)), y=np.zeros((0, 2, 1))), r"input 'x': empty batch of shape \(0, 3, 2\)"),
        (_with(x=np.zeros((2, 3, 2), dtype=np.int64)), r"input 'x': dtype int64 is not accepted; send float32"),
        (_with(x=np.zeros((2, 3, 2), dtype=bool)), r"input 'x': dtype bool is not accepted"),
        (_with(y=np.full((2, 2, 1), np.nan)), r"input 'y': values must be finite, got NaN or infinity"),
        (_with(y=np.full((2, 2, 1), -np.inf)), r"input 'y': values must be finite"),
        (_with(y=np.zeros((3, 2, 1))), r"inputs disagree on the batch: 'x' a batch of 2, 'y' a batch of 3"),
        (_with(y=np.zeros((2, 1))), r"inputs disagree on the batch: 'x' a batch of 2, 'y' one sample"),
    ],
    ids=lambda value: None if isinstance(value, dict) else value[:30],
)
def test_bad_requests_name_the_input_and_the_expected_shape(two_input_model, inputs, message):
    with pytest.raises(InvalidRequest, match=message):
        check_request(two_input_model, inputs)


def test_unknown_output_names_are_refused(two_input_model):
    with pytest.raises(InvalidRequest, match=r"unknown output 'loss'; the model's outputs are \['predict'\]"):
        check_request(two_input_model, good(), ["loss"])


def test_oversized_requests_are_refused_before_anything_else_is_checked(two_input_model):
    inputs = good(batch=1000)  # 1000 * (6 + 2) * 8 = 64000 bytes
    check_request(two_input_model, inputs, max_request_bytes=64000)
    with pytest.raises(InvalidRequest, match=r"request too large: 64000 bytes .* limit of 63999 bytes"):
        check_request(two_input_model, inputs, max_request_bytes=63999)
