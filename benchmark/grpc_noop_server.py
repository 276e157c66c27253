"""A gRPC server that answers every Predict with the same prepared bytes: the floor under any server.

``python -m benchmark.grpc_noop_server --port N --output-shape 10 1`` serves
``/serving.ModelService/Predict`` the way ``python -m matrixslow.serving`` does (grpc.aio, one event
loop, raw bytes in and out) but computes nothing: no parsing, no checks, no model, no
batching. What it sustains with the benchmark's load generator on the same cores is the
most requests/s, and the least latency, that gRPC itself allows here; the serving
benchmark prints it beside the real server's figures.
"""

import argparse
import asyncio

import grpc
import numpy as np
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from matrixslow.codec.tensors import to_proto
from matrixslow.serving.proto import serving_pb2


def answer_bytes(output_shape):
    """A PredictResponse as large as the real model's: one float64 output of ``output_shape``."""
    output = to_proto(np.zeros(output_shape), "predict")
    return serving_pb2.PredictResponse(model_name="noop", model_version=1, outputs={"predict": output})


async def serve(port, output_shape):
    answer = answer_bytes(output_shape).SerializeToString()

    async def predict(request_bytes, context):
        return answer

    server = grpc.aio.server()
    handler = grpc.unary_unary_rpc_method_handler(predict)  # bytes in, bytes out: nothing is parsed
    service = grpc.method_handlers_generic_handler("serving.ModelService", {"Predict": handler})
    server.add_generic_rpc_handlers((service,))
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    if server.add_insecure_port(f"127.0.0.1:{port}") == 0:
        raise SystemExit(f"grpc_noop_server: cannot listen on 127.0.0.1:{port}")
    await server.start()
    await health_servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    await server.wait_for_termination()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--output-shape", type=int, nargs="+", default=[10, 1])
    args = parser.parse_args()
    asyncio.run(serve(args.port, tuple(args.output_shape)))


if __name__ == "__main__":
    main()
