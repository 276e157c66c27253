"""The :predict body's grammar read in place (no server), and the answer written in pieces."""

import json
from types import SimpleNamespace

import numpy as np
import pytest

from matrixslow.serving import predict_json
from matrixslow.serving.errors import InvalidRequest
from matrixslow.serving.predict_json import answer_pieces, parse_predict_body

LIMIT = 1 << 30


def model(**dims):
    """A stand-in LoadedModel: its input dims and two outputs."""
    inputs = {name: SimpleNamespace(dim=dim) for name, dim in dims.items()}
    return SimpleNamespace(
        input_dims=lambda: {name: node.dim for name, node in inputs.items()}, outputs={"p": 0, "q": 0}
    )


PAIR = model(x=(4, 1), y=(2, 1))
ONE = model(x=(4, 1))


def parse(payload, served=PAIR, limit=LIMIT):
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return parse_predict_body(bytearray(body), served, limit)


def samples(n, seed=0):
    rng = np.random.default_rng(seed)
    return {"x": rng.normal(size=(n, 4, 1)), "y": rng.normal(size=(n, 2, 1))}


def test_columnar_inputs_become_float64_arrays_of_their_shape():
    batch = samples(3)
    inputs, output_names, rows = parse({"inputs": {k: v.tolist() for k, v in batch.items()}, "output_names": ["q"]})
    assert not rows and output_names == ["q"] and set(inputs) == {"x", "y"}
    for name in batch:
        assert inputs[name].dtype == np.float64
        np.testing.assert_array_equal(inputs[name], batch[name])


def test_instances_are_stacked_into_one_batch_per_input(monkeypatch):
    monkeypatch.setattr(predict_json, "BLOCK_SAMPLES", 3)  # several blocks and a partial one
    batch = samples(10)
    instances = [{"y": batch["y"][i].tolist(), "x": batch["x"][i].tolist()} for i in range(10)]
    inputs, _, rows = parse({"instances": instances})
    assert rows
    for name in batch:
        np.testing.assert_array_equal(inputs[name], batch[name])


def test_bare_instances_of_a_one_input_model_are_its_batch():
    batch = samples(5)["x"]
    inputs, _, rows = parse({"instances": batch.tolist()}, ONE)
    assert rows
    np.testing.assert_array_equal(inputs["x"], batch)
    mixed = [batch[0].tolist(), {"x": batch[1].tolist()}]  # bare and named samples may be mixed
    np.testing.assert_array_equal(parse({"instances": mixed}, ONE)[0]["x"], batch[:2])


def test_output_names_are_each_asked_once_and_signature_name_is_taken():
    payload = {"signature_name": "serving_default", "inputs": {"x": [[0]] * 4}, "output_names": ["q", "p", "q"]}
    assert parse(payload)[1] == ["q", "p"]


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"inputs": {"x": [[0]] * 4}, "version": 2}, "unknown key 'version' in the body; a :predict body takes"),
        ({"inputs": {}, "instances": []}, 'either "inputs" or "instances"'),
        ({"output_names": []}, 'either "inputs" or "instances"'),
        ([1, 2], 'either "inputs" or "instances"'),
        ({"inputs": [1]}, '"inputs" must be an object'),
        ({"inputs": {"z": [[0]]}}, "unknown input 'z'; the model's inputs are ['x', 'y']: input 'x' takes one sample"),
        ({"inputs": {"x": [[0]] * 4}, "output_names": ["loss"]}, "unknown output 'loss'; the model's outputs are"),
        ({"inputs": {"x": [[0]] * 4}, "output_names": "p"}, '"output_names" must be a list of output names'),
        ({"inputs": {"x": [[0]] * 4}, "output_names": [1]}, '"output_names" must be a list of output names'),
        ({"instances": []}, '"instances" must be a non-empty list of samples'),
        ({"instances": {"x": 1}}, '"instances" must be a non-empty list of samples'),
        ({"instances": [[[0]] * 4]}, "instance 0: the model has inputs ['x', 'y']; give each instance as"),
        ({"instances": [{"x": [[0]] * 4}]}, "instance 0: missing input 'y'"),
        ({"instances": [{"x": [[0]] * 4, "y": [[0]] * 2, "w": 1}]}, "instance 0: unknown input 'w'"),
        (
            {"instances": [{"x": [[0]] * 4, "y": [[0]] * 2}, {"x": [[0]] * 3, "y": [[0]] * 2}]},
            "input 'x': instances have different shapes: instance 0 has (4, 1), instance 1 has (3, 1)",
        ),
        (
            {"instances": [{"x": [0] * 4, "y": [[0]] * 2}]},
            "input 'x': each instance must be one sample of shape (4, 1)",
        ),
        ({"instances": [{"x": [[True]] * 4, "y": [[0]] * 2}]}, "instance 0: input 'x': values must be numbers"),
        ({"inputs": {"x": [["a"]] * 4}}, "input 'x': values must be numbers in nested lists of equal lengths, got"),
    ],
)
def test_bodies_off_the_grammar_are_refused_naming_what_is_wrong(payload, message):
    with pytest.raises(InvalidRequest) as raised:
        parse(payload)
    assert message in raised.value.message


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"inputs": {"x": [[0]]}', "the body is not valid JSON: expected ',' or '}' in the body at byte 23"),
        (b'{"inputs": {"x": [[0]]}} {}', "expected the end of the body after its object at byte 25"),
        (b'{"inputs" {"x": [[0]]}}', "expected ':' after the key 'inputs' in the body at byte 10"),
        (b"{inputs: 1}", "expected a string as a key in the body at byte 1"),
        (b'{"in\\qputs": 1}', "a string as a key in the body does not decode"),
        (b'{"\xff": 1}', "a string as a key in the body does not decode"),
    ],
)
def test_bodies_that_are_not_json_are_refused_saying_where(body, message):
    with pytest.raises(InvalidRequest, match="^the body is not valid JSON") as raised:
        parse(body)
    assert message in raised.value.message


def test_input_values_over_the_request_limit_are_refused_while_reading():
    batch = samples(8)
    payload = {"inputs": {k: v.tolist() for k, v in batch.items()}}
    needed = sum(v.nbytes for v in batch.values())
    parse(payload, limit=needed)
    with pytest.raises(InvalidRequest, match=rf"^request too large: more than {needed - 1} bytes of input values"):
        parse(payload, limit=needed - 1)


def test_answers_in_pieces_are_the_json_of_the_outputs():
    p, q = np.random.default_rng(2).normal(size=(2, 3, 2, 1))
    q[1, 0, 0] = np.inf  # not JSON: written as null
    as_lists = {"p": p.tolist(), "q": np.where(np.isfinite(q), q, None).tolist()}
    columnar = json.loads(b"".join(answer_pieces(7, {"p": p, "q": q}, rows=False)))
    assert columnar == {"model_version": 7, "outputs": as_lists}
    one = json.loads(b"".join(answer_pieces(7, {"p": p}, rows=True)))
    assert one == {"model_version": 7, "predictions": as_lists["p"]}
    both = json.loads(b"".join(answer_pieces(7, {"p": p, "q": q}, rows=True)))
    assert both["predictions"] == [{"p": as_lists["p"][row], "q": as_lists["q"][row]} for row in range(3)]
