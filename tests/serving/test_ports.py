"""A port the server cannot bind: the message names the port and the flag that moves it, and nothing else is printed."""

import socket
import subprocess
import sys

import pytest

import matrixslow as ms
from matrixslow.serving.http_server import ServingHTTPServer
from matrixslow.serving.ports import PortUnavailable, check_can_listen, listen_error
from matrixslow.serving.server import ServingApp, ServingConfig

from .support import REPO, export


@pytest.fixture
def taken_port():
    """A loopback port held by a listening socket (as another program would hold it)."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    directory = tmp_path_factory.mktemp("ports") / "m"
    export(directory, 1, lambda: ms.model.dnn(3, [2], 2))
    return directory


def run_server(model_dir, *flags):
    command = [sys.executable, "-m", "matrixslow.serving", "--model-dir", str(model_dir), *map(str, flags)]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=REPO)


def test_a_taken_http_port_is_named_with_the_flag_that_moves_it(model_dir, taken_port):
    result = run_server(model_dir, "--port", free_port(), "--http-port", taken_port)
    assert result.returncode == 2, result.stderr
    expected = f"cannot start: the HTTP server cannot listen on 127.0.0.1:{taken_port}: the port is in use; "
    assert expected + "choose another with --http-port" in result.stderr
    assert "Errno" not in result.stderr


def test_a_taken_grpc_port_is_named_with_its_flag_and_grpc_prints_no_log_line(model_dir, taken_port):
    result = run_server(model_dir, "--port", taken_port, "--http-port", free_port())
    assert result.returncode == 2, result.stderr
    expected = f"cannot start: the gRPC server cannot listen on 127.0.0.1:{taken_port}: the port is in use; "
    assert expected + "choose another with --port" in result.stderr
    assert "add_port.cc" not in result.stderr and "Failed to add port" not in result.stderr


def test_the_same_port_for_grpc_and_http_is_refused_before_the_model_loads(tmp_path):
    port = free_port()
    result = run_server(tmp_path / "no-such-model", "--port", port, "--http-port", port)
    assert result.returncode == 2, result.stderr
    assert f"--port and --http-port are both {port}; the gRPC and the HTTP server need a port each" in result.stderr


def test_check_can_listen_passes_free_ports_and_port_0(taken_port):
    check_can_listen("127.0.0.1", free_port(), "the gRPC server")
    check_can_listen("127.0.0.1", 0, "the gRPC server")
    check_can_listen("localhost", free_port(), "the gRPC server")


@pytest.mark.parametrize(
    ("host", "reason", "flag"),
    [
        ("127.0.0.1", "the port is in use", "--port"),
        ("192.0.2.1", "192.0.2.1 is not an address of this machine", "--host"),  # TEST-NET-1: never local
    ],
)
def test_check_can_listen_says_why_and_which_flag_to_change(taken_port, host, reason, flag):
    with pytest.raises(PortUnavailable) as error:
        check_can_listen(host, taken_port, "the gRPC server", "--port")
    message = str(error.value)
    assert message.startswith(f"the gRPC server cannot listen on {host}:{taken_port}: {reason}")
    assert message.endswith(f"; choose another with {flag}")


def test_without_a_flag_the_message_names_only_the_port(taken_port):
    with pytest.raises(PortUnavailable) as error:
        check_can_listen("127.0.0.1", taken_port, "the gRPC server")
    assert str(error.value) == f"the gRPC server cannot listen on 127.0.0.1:{taken_port}: the port is in use"


def test_a_host_that_does_not_resolve_points_at_host():
    unresolved = socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    message = str(listen_error("the HTTP server", "nowhere", 8501, unresolved, "--http-port"))
    assert message == (
        "the HTTP server cannot listen on nowhere:8501: the host 'nowhere' does not resolve "
        "(Name or service not known); choose another with --host"
    )


def test_the_http_server_on_a_taken_port_raises_port_unavailable(taken_port):
    with pytest.raises(PortUnavailable, match=f"127.0.0.1:{taken_port}: the port is in use; choose another with --x"):
        ServingHTTPServer(("127.0.0.1", taken_port), None, None, None, 1, "--x")


def test_a_taken_grpc_port_leaves_the_http_port_free(model_dir, taken_port):
    http_port = free_port()
    app = ServingApp(ServingConfig(model_dir=str(model_dir), port=taken_port, http_port=http_port))
    with pytest.raises(PortUnavailable, match="choose another with --port"):
        app.start()
    with socket.socket() as again:
        again.bind(("127.0.0.1", http_port))  # would raise EADDRINUSE had the HTTP server kept it
