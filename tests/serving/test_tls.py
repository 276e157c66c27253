"""TLS on both front ends, with a CA and a server certificate made here by trustme.

A TLS server answers Predict over gRPC and HTTPS; plaintext clients on its ports fail cleanly
and leave it serving; bad --tls-cert / --tls-key files stop the start with a message naming them.
"""

import contextlib
import json
import socket
import ssl
import subprocess
import sys
import urllib.error
import urllib.request

import numpy as np
import pytest
import trustme
from cryptography.hazmat.primitives import serialization

import matrixslow as ms
from matrixslow import serving
from matrixslow.serving.server import ServingApp, ServingConfig
from matrixslow.serving.tls import TLSConfigError, load_server_tls

from .support import REPO, export, local_forward

RTOL = 1e-12


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """PEM files: the CA, a server certificate for 127.0.0.1 and its key, and a key of another certificate."""
    directory = tmp_path_factory.mktemp("tls")
    ca = trustme.CA()
    server_cert = ca.issue_cert("127.0.0.1", "localhost")
    paths = {name: directory / f"{name}.pem" for name in ("ca", "cert", "key", "other_key")}
    ca.cert_pem.write_to_path(paths["ca"])
    for index, blob in enumerate(server_cert.cert_chain_pems):
        blob.write_to_path(paths["cert"], append=index > 0)
    server_cert.private_key_pem.write_to_path(paths["key"])
    ca.issue_cert("other.example").private_key_pem.write_to_path(paths["other_key"])
    return paths


@pytest.fixture(scope="module")
def app(files, tmp_path_factory):
    """A TLS ServingApp on free ports: (app, local model, gRPC "host:port", HTTP "host:port")."""
    directory = tmp_path_factory.mktemp("tls-model")
    _, model = export(directory / "tls", 1, lambda: ms.model.dnn(4, [3], 2), seed=5)
    config = ServingConfig(
        model_dir=str(directory / "tls"),
        model_name="tls",
        port=0,
        http_port=0,
        grace_seconds=2.0,
        tls_cert=str(files["cert"]),
        tls_key=str(files["key"]),
    )
    app = ServingApp(config)
    app.start()
    try:
        yield app, model, f"127.0.0.1:{app.grpc.port}", f"127.0.0.1:{app.http.server_address[1]}"
    finally:
        app.stop()


def https_predict(http_address, ca_path, batch):
    context = ssl.create_default_context(cafile=str(ca_path))
    request = urllib.request.Request(
        f"https://{http_address}/v1/models/tls:predict", data=json.dumps({"inputs": {"x": batch.tolist()}}).encode()
    )
    with urllib.request.urlopen(request, timeout=30, context=context) as response:
        return np.array(json.loads(response.read())["outputs"]["predict"])


def test_predict_over_grpc_with_tls_gives_the_local_forward_pass(app, files):
    _, model, grpc_address, _ = app
    batch = np.random.default_rng(1).normal(size=(3, 4, 1))
    with serving.Client(grpc_address, timeout=30, tls_root_cert=files["ca"]) as client:
        answer = client.predict({"x": batch})["predict"]
    np.testing.assert_allclose(answer, local_forward(model, {"x": batch}), rtol=RTOL)


def test_predict_over_https_gives_the_local_forward_pass(app, files):
    _, model, _, http_address = app
    batch = np.random.default_rng(2).normal(size=(2, 4, 1))
    np.testing.assert_allclose(https_predict(http_address, files["ca"], batch), local_forward(model, {"x": batch}))


def test_a_plaintext_grpc_client_fails_cleanly_and_the_server_keeps_serving(app, files):
    _, model, grpc_address, _ = app
    with serving.Client(grpc_address, timeout=5) as plaintext, pytest.raises(serving.ServingError) as refused:
        plaintext.status()
    assert refused.value.code.name == "UNAVAILABLE"
    with serving.Client(grpc_address, timeout=30, tls_root_cert=files["ca"]) as client:
        assert client.status()["model_name"] == "tls"


def test_plain_http_on_the_tls_port_gets_a_400_saying_https_and_the_server_keeps_serving(app, files):
    _, model, _, http_address = app
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"http://{http_address}/v1/models/tls", timeout=30)
    assert refused.value.code == 400
    assert "HTTPS" in json.loads(refused.value.read())["error"]
    batch = np.ones((1, 4, 1))
    np.testing.assert_allclose(https_predict(http_address, files["ca"], batch), local_forward(model, {"x": batch}))


def test_bytes_that_are_not_tls_get_the_connection_closed(app):
    _, _, _, http_address = app
    host, port = http_address.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=30) as garbage:
        garbage.sendall(b"\x00\x01\x02 not a client hello\r\n\r\n")
        # Closed by the server, not left hanging: a FIN, or a reset when it closed with bytes unread.
        with contextlib.suppress(ConnectionResetError):
            assert garbage.recv(1024) == b""


def test_a_client_that_never_says_hello_does_not_stall_other_connections(app, files):
    _, model, _, http_address = app
    host, port = http_address.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=30) as silent:
        batch = np.zeros((1, 4, 1))
        answer = https_predict(http_address, files["ca"], batch)
        # A handshake in the accept loop would have waited for ``silent`` until it timed out and was
        # closed before accepting the request above: it must still be open, waiting for its hello.
        silent.setblocking(False)  # with a timeout, recv would first wait for the server to close it
        with pytest.raises(BlockingIOError):
            silent.recv(1)
    np.testing.assert_allclose(answer, local_forward(model, {"x": batch}))


def encrypted_copy(key_path, target):
    key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    target.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"secret"),
        )
    )
    return target


@pytest.mark.parametrize(
    "case, expected",
    [
        ("cert only", "--tls-cert needs --tls-key as well"),
        ("key only", "--tls-key needs --tls-cert as well"),
        ("missing cert", "--tls-cert {tmp}/missing.pem: cannot read the file (No such file or directory)"),
        ("key as cert", "--tls-cert {key}: the file holds no PEM certificate"),
        ("cert as key", "--tls-key {cert}: the file holds no PEM private key"),
        ("other key", "--tls-key {other_key} is not the private key of --tls-cert {cert}"),
        ("encrypted key", "--tls-key {tmp}/encrypted.pem: the key is encrypted"),
    ],
)
def test_unusable_tls_files_are_named_with_their_flag(files, tmp_path, case, expected):
    cert, key = {
        "cert only": (files["cert"], None),
        "key only": (None, files["key"]),
        "missing cert": (tmp_path / "missing.pem", files["key"]),
        "key as cert": (files["key"], files["key"]),
        "cert as key": (files["cert"], files["cert"]),
        "other key": (files["cert"], files["other_key"]),
        "encrypted key": (files["cert"], encrypted_copy(files["key"], tmp_path / "encrypted.pem")),
    }[case]
    with pytest.raises(TLSConfigError) as refused:
        load_server_tls(cert, key)
    assert expected.format(tmp=tmp_path, **files) in str(refused.value)


def test_no_files_means_plaintext():
    assert load_server_tls(None, None) is None


def test_the_command_line_exits_2_naming_an_unreadable_tls_file(files, tmp_path):
    missing = tmp_path / "missing-key.pem"
    command = [sys.executable, "-m", "matrixslow.serving", "--model-dir", str(tmp_path), "--port", "0"]
    command += ["--tls-cert", str(files["cert"]), "--tls-key", str(missing)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=REPO)
    assert result.returncode == 2, result.stderr
    assert f"cannot start: --tls-key {missing}: cannot read the file" in result.stderr
