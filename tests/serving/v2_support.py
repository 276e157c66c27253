"""A served two-input model in two versions for the v2 protocol tests, in this process on free ports.

x (4, 1) and y (2, 1) -> scaled (2, 1); versions 1 and 2 have different weights and both stay
loaded (--keep-versions 2), so a request pinned to either can be told apart from the newest.
"""

import contextlib
from dataclasses import dataclass

import numpy as np

from matrixslow.serving.server import ServingApp, ServingConfig

from .support import export, local_forward, two_input_model

MODEL = "pair"
DIMS = {"x": (4, 1), "y": (2, 1)}


@dataclass
class V2Server:
    app: ServingApp
    models: dict  # version -> the exported model, for the local forward pass
    grpc: str  # "host:port"
    http: str  # "host:port"

    def forward(self, feed, version=2):
        """The engine's own forward pass of ``version`` on ``feed`` (float64 batches)."""
        return local_forward(
            self.models[version], {name: np.asarray(value, np.float64) for name, value in feed.items()}
        )


def batch(size=3, seed=0, dtype=np.float64):
    """{input name: a (size, *dim) batch} of random values."""
    rng = np.random.default_rng(seed)
    return {name: rng.normal(size=(size, *dim)).astype(dtype) for name, dim in DIMS.items()}


@contextlib.contextmanager
def v2_server(directory, max_request_bytes=1 << 20):
    models = {version: export(directory / MODEL, version, two_input_model, seed=version)[1] for version in (1, 2)}
    config = ServingConfig(
        model_dir=str(directory / MODEL),
        model_name=MODEL,
        port=0,
        http_port=0,
        keep_versions=2,
        grace_seconds=2.0,
        max_request_bytes=max_request_bytes,
    )
    app = ServingApp(config)
    app.start()
    try:
        yield V2Server(app, models, f"127.0.0.1:{app.grpc.port}", f"127.0.0.1:{app.http.server_address[1]}")
    finally:
        app.stop()


def assert_live_and_ready(client):
    """The health answers of the served pair, through either tritonclient (http and grpc share these calls)."""
    assert client.is_server_live()
    assert client.is_server_ready()
    assert client.is_model_ready(MODEL)
    assert client.is_model_ready(MODEL, "1") and client.is_model_ready(MODEL, "2")
    assert not client.is_model_ready(MODEL, "3")
    assert not client.is_model_ready("other")
