"""A burst of 1,000 new connections: both front ends accept every one and answer it.

With socketserver's listen backlog of 5, connections beyond the queue had their SYNs dropped and
retried after 1, 3, 7, ... s: 200 took 27.6 s and 1,000 took 150 s. The bound here is generous
(the machine is shared) yet far below what the old backlog needed.
"""

import json
import resource
import selectors
import socket
import time
from pathlib import Path

import grpc
import pytest

import matrixslow as ms
from matrixslow.serving.proto import serving_pb2, serving_pb2_grpc

from .support import export, running_server

BURST = 1000
BOUND_SECONDS = 10.0
PROC_TCP = (Path("/proc/net/tcp"), Path("/proc/net/tcp6"))  # gRPC connects 127.0.0.1 from v4-mapped IPv6


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """``python -m matrixslow.serving`` with both front ends, run with room for a burst's file descriptors."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = 3 * BURST  # this process's sockets, the server's (it inherits the limit), and slack
    if hard != resource.RLIM_INFINITY and hard < needed:
        pytest.skip(f"the hard limit of open files is {hard}; a burst of {BURST} connections needs {needed}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, needed), hard))
    directory = tmp_path_factory.mktemp("burst")
    export(directory / "burst", 1, lambda: ms.model.dnn(3, [2], 2))
    try:
        with running_server(directory / "burst", directory) as running:
            yield running
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def http_burst(address, path, count, give_up_seconds):
    """Open ``count`` connections at once and GET ``path`` on each; the raw answers that came back, and the seconds."""
    host, port = address.rsplit(":", 1)
    request = f"GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n".encode()
    selector = selectors.DefaultSelector()
    received = {}
    started = time.monotonic()
    for _ in range(count):
        connection = socket.socket()
        connection.setblocking(False)
        connection.connect_ex((host, int(port)))  # non-blocking: every SYN is out before any accept
        selector.register(connection, selectors.EVENT_WRITE)
    answers = []
    try:
        while selector.get_map() and time.monotonic() - started < give_up_seconds:
            for key, events in selector.select(0.5):
                connection = key.fileobj
                if events & selectors.EVENT_WRITE:
                    if connection.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
                        selector.unregister(connection)  # refused: counted as unanswered
                        connection.close()
                        continue
                    connection.sendall(request)
                    selector.modify(connection, selectors.EVENT_READ)
                    received[connection] = b""
                elif chunk := connection.recv(65536):
                    received[connection] += chunk
                else:  # the server closed the connection after its answer
                    answers.append(received.pop(connection))
                    selector.unregister(connection)
                    connection.close()
    finally:
        for key in list(selector.get_map().values()):
            key.fileobj.close()
    return answers, time.monotonic() - started


def established_to(port):
    """How many ESTABLISHED TCP connections on this machine have ``port`` as their remote end."""
    rows = [line.split() for table in PROC_TCP for line in table.read_text().splitlines()[1:]]
    return sum(1 for row in rows if row[2].endswith(f":{port:04X}") and row[3] == "01")


def test_a_burst_of_1000_http_connections_is_accepted_and_answered(server):
    answers, seconds = http_burst(server.http, "/v1/models/burst", BURST, BOUND_SECONDS)
    assert len(answers) == BURST, f"{len(answers)} of {BURST} connections answered in {seconds:.1f} s"
    heads, bodies = zip(*(answer.split(b"\r\n\r\n", 1) for answer in answers), strict=True)
    assert {head.split(b"\r\n", 1)[0] for head in heads} == {b"HTTP/1.1 200 OK"}
    assert {json.loads(body)["model_name"] for body in bodies} == {"burst"}


@pytest.mark.skipif(not all(map(Path.exists, PROC_TCP)), reason="counting connections reads Linux's /proc/net/tcp*")
def test_a_burst_of_1000_grpc_channels_each_gets_its_model_status(server):
    # A local subchannel pool per channel: by default channels to one address share one connection.
    options = [("grpc.use_local_subchannel_pool", 1)]
    channels = [grpc.insecure_channel(server.address, options=options) for _ in range(BURST)]
    try:
        started = time.monotonic()
        calls = [
            serving_pb2_grpc.ModelServiceStub(channel).ModelStatus.future(
                serving_pb2.ModelStatusRequest(), timeout=BOUND_SECONDS
            )
            for channel in channels
        ]
        names = [call.result().model_name for call in calls]  # a call not answered in time raises DEADLINE_EXCEEDED
        seconds = time.monotonic() - started
        assert names == ["burst"] * BURST, f"answered in {seconds:.1f} s"
        assert established_to(int(server.address.rsplit(":", 1)[1])) == BURST
    finally:
        for channel in channels:
            channel.close()
