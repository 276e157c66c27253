"""The book's serving protocol keeps the book's names (tests/test_proto_regeneration.py checks the generated code)."""

import matrixslow_serving.serving.proto as proto_package


def test_the_proto_has_the_book_s_names():
    """What the book's client.py and the original's serving.proto spell: package, service, messages, fields."""
    descriptor = proto_package.serving_pb2.DESCRIPTOR
    assert descriptor.package == "matrixslow.serving"
    service = descriptor.services_by_name["MatrixSlowServing"]
    predict = service.methods_by_name["Predict"]
    assert [method.name for method in service.methods] == ["Predict"]
    assert (predict.input_type.name, predict.output_type.name) == ("PredictReq", "PredictResp")
    fields = {
        name: [(field.name, field.number, field.type, field.is_repeated) for field in message.fields]
        for name, message in descriptor.message_types_by_name.items()
    }
    field = descriptor.message_types_by_name["Matrix"].fields[0]
    float_, int32, message = field.TYPE_FLOAT, field.TYPE_INT32, field.TYPE_MESSAGE
    assert fields == {
        "Matrix": [("value", 1, float_, True), ("dim", 2, int32, True)],
        "PredictReq": [("data", 1, message, True)],
        "PredictResp": [("data", 1, message, True)],
    }
