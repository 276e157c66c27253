"""The book's Predict (service ``matrixslow.serving.MatrixSlowServing``), answered by our prediction core.

A book request carries one ``Matrix`` per sample: its values row by row and its dim, the sample
as the client holds it (a (28, 28) image, a row of features). The server feeds each sample as
the trainer of the model fed it in training, so that a model answers as it learned:

- a model saved by us: as our Trainer does, the values row by row into the input's dim, so the
  Matrix has the input's dim (``x.set_value(image)``);
- a model saved by the original MatrixSlow: its trainer and its server both set the sample's
  transpose (``set_value(np.mat(sample).T)``), so the Matrix has the input's dim reversed and the
  input gets its transpose, exactly as the original's server did.

For a vector input the two agree, and any orientation of the vector is taken (``[n]``, ``[1, n]``,
``[n, 1]``). The adapter only translates: the samples become one batch in a ``serving``
PredictRequest for the model's one input, which ``serving``'s own servicer checks, queues, batches
and answers (deadlines, metrics and errors included); the outputs return one Matrix per sample.
A malformed request is answered INVALID_ARGUMENT naming the Matrix and the dim the input takes.
"""

import math

import grpc
import numpy as np

from matrixslow.codec.tensors import from_proto, to_proto
from matrixslow.serving.errors import InvalidRequest, RequestError
from matrixslow.serving.grpc_calls import parse
from matrixslow.serving.proto import serving_pb2 as our_pb2

from .proto import serving_pb2 as book_pb2

SERVICE_NAME = book_pb2.DESCRIPTOR.services_by_name["MatrixSlowServing"].full_name


class OneInputOneOutput(RequestError):
    """The book's Predict has one input and one output; this model's signature has more."""

    code = grpc.StatusCode.FAILED_PRECONDITION


def _without_ones(shape):
    return tuple(size for size in shape if size != 1)


class SampleForm:
    """What one book Matrix must look like for input ``name`` of ``dim``, and how it becomes the input's value.

    Parameters
    ----------
    name : str
    dim : (int, int)
    transposed : bool
        The model was saved by the original MatrixSlow, whose trainer fed each sample's transpose.
    """

    def __init__(self, name, dim, transposed):
        self.name = name
        self.dim = tuple(dim)
        self.transposed = transposed
        self.sent_dim = self.dim[::-1] if transposed else self.dim

    def describe(self):
        """The sentence error messages end with: what to send."""
        rows, cols = self.sent_dim
        how = (
            f"the model was saved by the original MatrixSlow, so, as its trainer did, the server sets each "
            f"sample's transpose into input {self.name!r} of dim {self.dim}"
            if self.transposed
            else f"the server sets it into input {self.name!r} of dim {self.dim}"
        )
        vector = " (for a vector any of [n], [1, n], [n, 1])" if min(self.dim) == 1 else ""
        return f"send one Matrix per sample of dim [{rows}, {cols}]{vector}, {rows * cols} values row by row: {how}"

    def sample(self, index, matrix):
        """The input's value for ``matrix``, the ``index``-th of the request; or InvalidRequest."""
        shape = tuple(matrix.dim)
        if not 1 <= len(shape) <= 2 or min(shape) < 1:
            raise InvalidRequest(
                f"Matrix {index}: dim {list(shape)} is not [rows, cols] of positive sizes; {self.describe()}"
            )
        if len(matrix.value) != math.prod(shape):
            raise InvalidRequest(
                f"Matrix {index}: {len(matrix.value)} values do not fill dim {list(shape)} "
                f"({math.prod(shape)} values); {self.describe()}"
            )
        if _without_ones(shape) != _without_ones(self.sent_dim):
            raise InvalidRequest(f"Matrix {index}: dim {list(shape)} does not fit; {self.describe()}")
        values = np.asarray(matrix.value, dtype=np.float32).reshape(self.sent_dim)
        if not np.isfinite(values).all():
            raise InvalidRequest(f"Matrix {index}: values must be finite, got NaN or infinity")
        return values.T if self.transposed else values

    def batch(self, request):
        """Every sample of ``request`` as one (B, rows, cols) float32 batch; InvalidRequest for none."""
        if not request.data:
            raise InvalidRequest(f"empty request: PredictReq.data holds no Matrix; {self.describe()}")
        return np.stack([self.sample(index, matrix) for index, matrix in enumerate(request.data)])


def book_response(outputs):
    """One ``Matrix`` per sample of ``outputs`` ((B, rows, cols)): values row by row and the sample's dim."""
    return book_pb2.PredictResp(
        data=[book_pb2.Matrix(value=sample.ravel(), dim=sample.shape) for sample in np.asarray(outputs)]
    )


def one_input_one_output(model):
    """The (input name, output name) of ``model``'s signature, or OneInputOneOutput."""
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise OneInputOneOutput(
            f"the book's Predict feeds one input and returns one output; this model's signature has inputs "
            f"{list(model.inputs)} and outputs {list(model.outputs)}: ask serving.ModelService (serving.Client)"
        )
    return next(iter(model.inputs)), next(iter(model.outputs))


class MatrixSlowServingServicer:
    """The book's Predict over ``serving``'s ModelServicer, on the same event loop.

    Parameters
    ----------
    model_servicer : serving.grpc_server.ModelServicer
        Its predictor's store is a ``BookModelStore`` (it knows who saved the model).
    """

    def __init__(self, model_servicer):
        self.model_servicer = model_servicer
        self.store = model_servicer.predictor.store

    def handler(self):
        """The generic handler of ``SERVICE_NAME``; Predict takes raw bytes so a bad one is INVALID_ARGUMENT."""
        predict = grpc.unary_unary_rpc_method_handler(
            self.Predict, response_serializer=book_pb2.PredictResp.SerializeToString
        )
        return grpc.method_handlers_generic_handler(SERVICE_NAME, {"Predict": predict})

    async def Predict(self, data, context):  # noqa: N802 (the gRPC method name)
        try:
            request = parse(book_pb2.PredictReq, data)
            model = self.store.current
            input_name, output_name = one_input_one_output(model)
            form = SampleForm(input_name, model.inputs[input_name].dim, self.store.saved_by_original)
            batch = form.batch(request)
        except RequestError as error:
            await context.abort(error.code, error.message)
        ours = our_pb2.PredictRequest(inputs={input_name: to_proto(batch, input_name)}, output_names=[output_name])
        # serving's Predict answers, or aborts the call itself with an error naming the input.
        answer = await self.model_servicer.Predict(ours.SerializeToString(), context)
        return book_response(from_proto(answer.outputs[output_name], output_name))
