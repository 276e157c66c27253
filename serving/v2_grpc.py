"""The Open Inference Protocol's gRPC service, ``inference.GRPCInferenceService``, on the server's gRPC port.

ServerLive, ServerReady, ModelReady, ServerMetadata, ModelMetadata and ModelInfer, as coroutines on
the same grpc.aio server and event loop as the model service. ModelInfer takes its inputs as
``raw_input_contents`` (one little-endian buffer per input, in order) or typed ``contents``, and
answers with ``raw_output_contents``; it goes through the same validation, batcher, version pinning
and status codes as Predict (``serving.grpc_calls``), counted under protocol "grpc_v2".

The messages come from serving/proto/v2/inference.proto, in a proto package of our own (see there why):
protobuf's wire format holds field numbers, not message names, so they are the spec's on the wire,
and the generic handler below serves them under the spec's method paths.
"""

import grpc

from .errors import InvalidRequest, RequestError, shown
from .grpc_calls import counted, parse, predicted
from .proto.v2 import inference_pb2 as pb
from .v2_models import is_model_ready, model_metadata, server_metadata, version_number
from .v2_tensors import CONTENTS_FIELDS, checked_shape, datatype_of, dtype_of, from_raw, from_values, to_raw
from .validation import check_name_lengths

SERVICE_NAME = "inference.GRPCInferenceService"


def method_handlers(servicer):
    """The service's methods, each taking the request's raw bytes so ``parse`` can answer INVALID_ARGUMENT."""
    responses = {
        "ServerLive": pb.ServerLiveResponse,
        "ServerReady": pb.ServerReadyResponse,
        "ModelReady": pb.ModelReadyResponse,
        "ServerMetadata": pb.ServerMetadataResponse,
        "ModelMetadata": pb.ModelMetadataResponse,
        "ModelInfer": pb.ModelInferResponse,
    }
    handlers = {
        method: grpc.unary_unary_rpc_method_handler(
            getattr(servicer, method), response_serializer=response.SerializeToString
        )
        for method, response in responses.items()
    }
    return grpc.method_handlers_generic_handler(SERVICE_NAME, handlers)


class InferenceServicer:
    """The v2 methods over a Predictor.

    Parameters
    ----------
    predictor : Predictor
    completions : LoopCompletions
    is_ready : callable
        () -> bool, False once the server is stopping.
    """

    def __init__(self, predictor, completions, is_ready):
        self.predictor = predictor
        self.completions = completions
        self.is_ready = is_ready

    async def ServerLive(self, data, context):  # noqa: N802 (the v2 method names)
        return await _answering(context, pb.ServerLiveRequest, data, lambda _: pb.ServerLiveResponse(live=True))

    async def ServerReady(self, data, context):  # noqa: N802
        return await _answering(
            context, pb.ServerReadyRequest, data, lambda _: pb.ServerReadyResponse(ready=self.is_ready())
        )

    async def ModelReady(self, data, context):  # noqa: N802
        def ready(request):
            return pb.ModelReadyResponse(ready=is_model_ready(self.predictor, request.name, request.version))

        return await _answering(context, pb.ModelReadyRequest, data, ready)

    async def ServerMetadata(self, data, context):  # noqa: N802
        return await _answering(
            context, pb.ServerMetadataRequest, data, lambda _: pb.ServerMetadataResponse(**server_metadata())
        )

    async def ModelMetadata(self, data, context):  # noqa: N802
        def metadata(request):
            found = model_metadata(self.predictor, request.name, version_number(request.version))
            tensor = pb.ModelMetadataResponse.TensorMetadata
            for key in ("inputs", "outputs"):
                found[key] = [tensor(**spec) for spec in found[key]]
            return pb.ModelMetadataResponse(**found)

        return await _answering(context, pb.ModelMetadataRequest, data, metadata)

    async def ModelInfer(self, data, context):  # noqa: N802
        return await counted(self.predictor.metrics, "grpc_v2", context, self._infer(data, context))

    async def _infer(self, data, context):
        request = parse(pb.ModelInferRequest, data)
        self.predictor.check_name(request.model_name)
        version = version_number(request.model_version)
        inputs = decode_inputs(request)
        output_names = list(dict.fromkeys(output.name for output in request.outputs))
        check_name_lengths(output_names, "output")
        outputs, computed_by = await predicted(self.predictor, self.completions, inputs, output_names, context, version)
        response = pb.ModelInferResponse(
            model_name=self.predictor.model_name, model_version=str(computed_by), id=request.id
        )
        for name, value in outputs.items():
            response.outputs.add(name=name, datatype=datatype_of(value.dtype), shape=value.shape)
            response.raw_output_contents.append(to_raw(value))
        return response


def decode_inputs(request):
    """{input name: array} of a ModelInferRequest; InvalidRequest naming the input whose tensor is wrong."""
    check_name_lengths([tensor.name for tensor in request.inputs], "input")
    raw = request.raw_input_contents
    if raw and len(raw) != len(request.inputs):
        raise InvalidRequest(
            f"raw_input_contents holds {len(raw)} buffers for {len(request.inputs)} inputs; "
            "give one per input, in the order of inputs"
        )
    inputs = {}
    for index, tensor in enumerate(request.inputs):
        name = tensor.name
        if name in inputs:
            raise InvalidRequest(f"input {shown(name)} is given twice in inputs")
        shape = checked_shape(tensor.shape, name)
        dtype_of(tensor.datatype, name)  # BYTES and unknown datatypes are refused before their values are looked at
        if raw:
            if tensor.HasField("contents"):
                raise InvalidRequest(f"input {shown(name)} has both contents and raw_input_contents; send one")
            inputs[name] = from_raw(raw[index], tensor.datatype, shape, name)
            continue
        field = CONTENTS_FIELDS.get(tensor.datatype)
        if field is None:
            raise InvalidRequest(
                f"input {shown(name)}: {tensor.datatype} has no contents field; send raw_input_contents"
            )
        inputs[name] = from_values(getattr(tensor.contents, field), tensor.datatype, shape, name)
    return inputs


async def _answering(context, request_class, data, answer):
    """``answer(request)`` of the ``request_class`` message in ``data``, or its RequestError as the status code."""
    try:
        return answer(parse(request_class, data))
    except RequestError as error:
        await context.abort(error.code, error.message)
