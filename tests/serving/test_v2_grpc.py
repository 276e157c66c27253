"""The Open Inference Protocol's gRPC service, driven by tritonclient.grpc and by tritonclient's own messages.

Our messages live in a proto package of our own (serving/proto/v2/inference.proto): the first test checks
that they are field for field tritonclient's, which is what makes them the same on the wire. Bad requests
are built from tritonclient's service_pb2 and sent with its stub, so the server sees what a client sends.
"""

import grpc
import numpy as np
import pytest
import tritonclient.grpc as triton
from tritonclient.grpc import service_pb2, service_pb2_grpc
from tritonclient.utils import InferenceServerException

from matrixslow.serving.proto.v2 import inference_pb2

from .v2_support import MODEL, assert_live_and_ready, batch, v2_server

RTOL = 1e-12
MAX_REQUEST_BYTES = 1 << 20


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with v2_server(tmp_path_factory.mktemp("v2_grpc"), MAX_REQUEST_BYTES) as running:
        yield running


@pytest.fixture(scope="module")
def client(server):
    client = triton.InferenceServerClient(server.grpc)
    yield client
    client.close()


@pytest.fixture(scope="module")
def stub(server):
    with grpc.insecure_channel(server.grpc) as channel:
        yield service_pb2_grpc.GRPCInferenceServiceStub(channel)


def infer_inputs(feed, datatype):
    inputs = []
    for name, value in feed.items():
        tensor = triton.InferInput(name, list(value.shape), datatype)
        tensor.set_data_from_numpy(value)  # raw_input_contents
        inputs.append(tensor)
    return inputs


def assert_still_serves(server, client):
    feed = batch(size=2, seed=9)
    answer = client.infer(MODEL, infer_inputs(feed, "FP64")).as_numpy("scaled")
    np.testing.assert_allclose(answer, server.forward(feed), rtol=RTOL)


def _fields(descriptor):
    return {field.name: (field.number, field.type, field.is_repeated) for field in descriptor.fields}


def _assert_same_messages(ours, theirs, path):
    assert _fields(ours) == _fields(theirs), path
    for nested in ours.nested_types:
        _assert_same_messages(nested, theirs.nested_types_by_name[nested.name], f"{path}.{nested.name}")


def test_our_messages_are_tritonclients_field_for_field():
    ours = inference_pb2.DESCRIPTOR.message_types_by_name
    assert len(ours) == 14
    for name, descriptor in ours.items():
        _assert_same_messages(descriptor, service_pb2.DESCRIPTOR.message_types_by_name[name], name)
    assert inference_pb2.DESCRIPTOR.package != service_pb2.DESCRIPTOR.package  # both load in one process


def test_health_and_readiness(client):
    assert_live_and_ready(client)


def test_model_metadata_has_the_signature_with_a_batch_axis_of_minus_one(client):
    metadata = client.get_model_metadata(MODEL)
    assert metadata.name == MODEL and list(metadata.versions) == ["1", "2"]
    assert [(t.name, t.datatype, list(t.shape)) for t in metadata.inputs] == [
        ("x", "FP64", [-1, 4, 1]),
        ("y", "FP64", [-1, 2, 1]),
    ]
    assert [(t.name, t.datatype, list(t.shape)) for t in metadata.outputs] == [("scaled", "FP64", [-1, 2, 1])]
    assert client.get_server_metadata().name == "matrixslow"


@pytest.mark.parametrize("datatype", ["FP32", "FP64"])
@pytest.mark.parametrize("ask_outputs", [True, False], ids=["outputs-named", "all-outputs"])
def test_infer_answers_the_engines_forward_pass(server, client, datatype, ask_outputs):
    feed = batch(size=3, seed=1, dtype=np.float32 if datatype == "FP32" else np.float64)
    outputs = [triton.InferRequestedOutput("scaled")] if ask_outputs else None
    result = client.infer(MODEL, infer_inputs(feed, datatype), outputs=outputs)
    assert result.get_response().model_version == "2"
    np.testing.assert_allclose(result.as_numpy("scaled"), server.forward(feed), rtol=RTOL)


def test_typed_contents_are_read_like_raw_ones(server, stub):
    feed = batch(size=2, seed=4)
    request = service_pb2.ModelInferRequest(model_name=MODEL)
    for name, value in feed.items():
        tensor = request.inputs.add(name=name, datatype="FP64", shape=value.shape)
        tensor.contents.fp64_contents.extend(value.ravel())
    response = stub.ModelInfer(request, timeout=30)
    answer = np.frombuffer(response.raw_output_contents[0], "<f8").reshape(response.outputs[0].shape)
    np.testing.assert_allclose(answer, server.forward(feed), rtol=RTOL)


@pytest.mark.parametrize("version", ["1", "2"])
def test_model_version_pins_the_version_that_computes(server, client, version):
    feed = batch(size=2, seed=3)
    result = client.infer(MODEL, infer_inputs(feed, "FP64"), model_version=version)
    assert result.get_response().model_version == version
    np.testing.assert_allclose(result.as_numpy("scaled"), server.forward(feed, int(version)), rtol=RTOL)
    assert not np.allclose(server.forward(feed, 1), server.forward(feed, 2))  # the versions can be told apart


def test_tritonclient_reports_the_servers_status_and_message(server, client):
    with pytest.raises(InferenceServerException) as unknown:
        client.get_model_metadata("other")
    assert unknown.value.status() == "StatusCode.NOT_FOUND" and "'other'" in unknown.value.message()
    wrong = {"x": np.zeros((2, 4, 2)), "y": np.zeros((2, 2, 1))}
    with pytest.raises(InferenceServerException) as refused:
        client.infer(MODEL, infer_inputs(wrong, "FP64"))
    assert refused.value.status() == "StatusCode.INVALID_ARGUMENT"
    assert "input 'x': got shape (2, 4, 2)" in refused.value.message()
    assert_still_serves(server, client)


def raw_request(feed=None, datatypes=None, **fields):
    """A ModelInferRequest of ``feed`` as raw_input_contents; ``fields`` override the request's own."""
    feed = batch() if feed is None else feed
    datatypes = datatypes or {}
    request = service_pb2.ModelInferRequest(model_name=fields.pop("model_name", MODEL), **fields)
    for name, value in feed.items():
        request.inputs.add(name=name, datatype=datatypes.get(name, "FP64"), shape=value.shape)
        request.raw_input_contents.append(np.ascontiguousarray(value).tobytes())
    return request


def _renamed(request, index, name):
    request.inputs[index].name = name
    return request


def _reshaped(request, index, shape):
    del request.inputs[index].shape[:]
    request.inputs[index].shape.extend(shape)
    return request


def _cut(request, index, size):
    request.raw_input_contents[index] = request.raw_input_contents[index][:size]
    return request


def _one_buffer(request):
    del request.raw_input_contents[1:]
    return request


def _with_contents(request, index, values):
    request.inputs[index].contents.fp64_contents.extend(values)
    return request


def _contents_only(feed, drop):
    """A request with typed contents, ``drop`` values short of x's shape."""
    request = service_pb2.ModelInferRequest(model_name=MODEL)
    for name, value in feed.items():
        request.inputs.add(name=name, datatype="FP64", shape=value.shape)
        request.inputs[-1].contents.fp64_contents.extend(value.ravel()[: value.size - (drop if name == "x" else 0)])
    return request


NOT_FOUND, INVALID = grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT
BAD_REQUESTS = {
    "unknown model": (lambda: raw_request(model_name="other"), NOT_FOUND, ["'other'", MODEL]),
    "unknown version": (lambda: raw_request(model_version="7"), NOT_FOUND, ["no version 7", "versions served: 1, 2"]),
    "version not a number": (lambda: raw_request(model_version="latest"), INVALID, ["model_version 'latest'"]),
    "unknown input": (lambda: _renamed(raw_request(), 0, "z"), INVALID, ["unknown input 'z'", "'x'", "'y'"]),
    "missing input": (lambda: raw_request({"x": batch()["x"]}), INVALID, ["missing input 'y'"]),
    "wrong shape": (
        lambda: raw_request({**batch(), "x": np.zeros((3, 2, 2))}),
        INVALID,
        ["input 'x': got shape (3, 2, 2)", "(B, 4, 1)"],
    ),
    "raw byte count": (lambda: _cut(raw_request(), 0, 40), INVALID, ["input 'x': raw contents hold 40 bytes", "96"]),
    "shape vs raw bytes": (
        lambda: _reshaped(raw_request(), 0, [3, 4, 2]),
        INVALID,
        ["input 'x'", "96 bytes", "takes 192 bytes"],
    ),
    "buffers vs inputs": (lambda: _one_buffer(raw_request()), INVALID, ["1 buffers for 2 inputs"]),
    "contents and raw": (lambda: _with_contents(raw_request(), 1, [1.0] * 6), INVALID, ["input 'y' has both"]),
    "shape vs contents": (
        lambda: _contents_only(batch(), drop=1),
        INVALID,
        ["input 'x': shape [3, 4, 1] takes 12 values", "holds 11"],
    ),
    "strings": (lambda: raw_request(datatypes={"y": "BYTES"}), INVALID, ["input 'y'", "BYTES"]),
    "integers": (
        lambda: raw_request({**batch(), "x": np.zeros((3, 4, 1), np.int32)}, datatypes={"x": "INT32"}),
        INVALID,
        ["input 'x': dtype int32", "float32 or float64"],
    ),
    "non-finite": (
        lambda: raw_request({**batch(), "x": np.full((3, 4, 1), np.inf)}),
        INVALID,
        ["input 'x': values must be finite"],
    ),
    "negative shape": (lambda: _reshaped(raw_request(), 1, [-1, 2, 1]), INVALID, ["input 'y': shape [-1, 2, 1]"]),
    "unknown output": (
        lambda: raw_request(outputs=[service_pb2.ModelInferRequest.InferRequestedOutputTensor(name="nope")]),
        INVALID,
        ["unknown output 'nope'", "scaled"],
    ),
    "values over the limit": (
        lambda: raw_request({"x": np.zeros((40_000, 4, 1)), "y": np.zeros((40_000, 2, 1))}),
        INVALID,
        ["request too large", str(MAX_REQUEST_BYTES)],
    ),
}


@pytest.mark.parametrize("case", list(BAD_REQUESTS))
def test_a_bad_request_gets_its_status_code_and_a_message_naming_the_field(server, client, stub, case):
    make, code, fragments = BAD_REQUESTS[case]
    with pytest.raises(grpc.RpcError) as refused:
        stub.ModelInfer(make(), timeout=30)
    assert refused.value.code() == code, refused.value.details()
    for fragment in fragments:
        assert fragment in refused.value.details(), (fragment, refused.value.details())
    assert_still_serves(server, client)


def test_a_message_that_does_not_parse_is_invalid_argument(server, client):
    with grpc.insecure_channel(server.grpc) as channel:
        call = channel.unary_unary("/inference.GRPCInferenceService/ModelInfer")
        with pytest.raises(grpc.RpcError) as refused:
            call(b"\xff\xff\xff", timeout=30)
    assert refused.value.code() == INVALID
    assert "not a valid matrixslow.serving.v2.ModelInferRequest" in refused.value.details()
    assert_still_serves(server, client)


def test_v2_requests_are_counted_under_their_own_protocol(server, client, stub):
    assert_still_serves(server, client)
    with pytest.raises(grpc.RpcError):
        stub.ModelInfer(_renamed(raw_request(), 0, "z"), timeout=30)
    counted = {
        (sample.labels["protocol"], sample.labels["code"]): sample.value
        for family in server.app.metrics.registry.collect()
        for sample in family.samples
        if sample.name == "serving_requests_total"
    }
    assert counted[("grpc_v2", "OK")] >= 1 and counted[("grpc_v2", "INVALID_ARGUMENT")] >= 1
    assert ("grpc", "OK") not in counted  # the v1 API saw none of these
