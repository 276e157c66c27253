"""Mutual TLS between shards and workers, with a job CA and certificates made here by trustme.

TLS ring and parameter-server jobs train to the plaintext job's weights; a peer whose TLS does
not match (plaintext, another CA, a certificate for another host) fails at once with a message
naming it, instead of at a deadline; bad --tls-* files stop the launcher before anything starts.
"""

import dataclasses
import re
import ssl
import time
from concurrent.futures import ThreadPoolExecutor

import grpc
import numpy as np
import pytest
import trustme

from matrixslow.dist import cluster, launch
from matrixslow.dist.allreduce import RingAllReduce
from matrixslow.dist.proto import allreduce_pb2, allreduce_pb2_grpc
from matrixslow.dist.ps import ParameterServer, ParameterServerClient
from matrixslow.dist.tls import PeerTLS, PeerTLSError, handshake_problem, load_peer_tls
from matrixslow.dist.trainers import DistTrainerParameterServer, DistTrainerRingAllReduce
from matrixslow.tls_files import TLSConfigError

from .test_dist_trainers import build_mlp, trainer_kargs
from .test_launch import EXAMPLE, assert_every_worker_agrees, checksums
from .test_launch import launch as run_launcher

# Every failure below must come well before this deadline: it proves no one waited for it.
DEADLINE_SECONDS = 10.0
FAIL_FAST_SECONDS = 3.0


def write_cert(directory, name, cert):
    """``name``-cert.pem (the chain) and ``name``-key.pem of a trustme certificate."""
    cert_path, key_path = directory / f"{name}-cert.pem", directory / f"{name}-key.pem"
    for index, blob in enumerate(cert.cert_chain_pems):
        blob.write_to_path(cert_path, append=index > 0)
    cert.private_key_pem.write_to_path(key_path)
    return cert_path, key_path


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """PEM paths: the job's CA, a loopback certificate it signed and a localhost-only one; an outsider CA and cert."""
    directory = tmp_path_factory.mktemp("pki")
    job_ca, outsider_ca = trustme.CA(), trustme.CA()
    paths = {"ca": directory / "ca.pem", "outsider_ca": directory / "outsider-ca.pem"}
    job_ca.cert_pem.write_to_path(paths["ca"])
    outsider_ca.cert_pem.write_to_path(paths["outsider_ca"])
    paths["cert"], paths["key"] = write_cert(directory, "node", job_ca.issue_cert("127.0.0.1", "localhost"))
    outsider_cert = outsider_ca.issue_cert("127.0.0.1")
    paths["outsider_cert"], paths["outsider_key"] = write_cert(directory, "outsider", outsider_cert)
    paths["localhost_cert"], paths["localhost_key"] = write_cert(directory, "localhost", job_ca.issue_cert("localhost"))
    return paths


@pytest.fixture(scope="module")
def job_tls(pki):
    return load_peer_tls(pki["cert"], pki["key"], pki["ca"])


def tls_flags(pki):
    return ["--tls-cert", pki["cert"], "--tls-key", pki["key"], "--tls-ca", pki["ca"]]


@pytest.mark.parametrize("mode", [["--mode", "allreduce"], ["--mode", "ps", "--ps", 1]], ids=["ring", "ps"])
def test_a_tls_job_trains_to_the_weights_of_the_plaintext_job(pki, tmp_path, mode):
    plaintext = run_launcher(*mode, "--workers", 2, EXAMPLE, "--epochs", 1, cwd=tmp_path)
    over_tls = run_launcher(*mode, "--workers", 2, *tls_flags(pki), EXAMPLE, "--epochs", 1, cwd=tmp_path)
    assert_every_worker_agrees(plaintext, 2)
    assert_every_worker_agrees(over_tls, 2)
    assert checksums(over_tls.stdout) == checksums(plaintext.stdout)
    if "ps" in mode:
        assert re.search(r"^\[ps 0\] serving parameter shard 0 on \S+ over TLS for 2 workers$", over_tls.stdout, re.M)


def test_a_tls_ring_sums_like_a_plaintext_one(job_tls):
    workers = [RingAllReduce(rank, 2, deadline=DEADLINE_SECONDS, tls=job_tls) for rank in range(2)]
    try:
        addresses = [worker.address for worker in workers]
        for worker in workers:
            worker.connect(addresses)
        buffers = [np.arange(5.0) * (rank + 1) for rank in range(2)]
        with ThreadPoolExecutor(2) as pool:
            results = list(pool.map(lambda rank: workers[rank].allreduce(buffers[rank], 3), range(2)))
    finally:
        for worker in workers:
            worker.close()
    for total, count in results:
        np.testing.assert_array_equal(total, buffers[0] + buffers[1])
        assert count == 6


def connect_fails_fast(worker, addresses):
    started = time.monotonic()
    with pytest.raises(PeerTLSError) as refused:
        worker.connect(addresses)
    assert time.monotonic() - started < FAIL_FAST_SECONDS
    return str(refused.value)


def test_a_plaintext_ring_worker_next_to_a_tls_one_fails_at_once_naming_it(job_tls):
    secure = RingAllReduce(1, 2, deadline=DEADLINE_SECONDS, tls=job_tls)
    plain = RingAllReduce(0, 2, deadline=DEADLINE_SECONDS)
    try:
        message = connect_fails_fast(plain, [plain.address, secure.address])
    finally:
        plain.close()
        secure.close()
    assert f"right neighbour rank 1 at {secure.address}" in message
    assert "it serves TLS and this process does not" in message


def test_a_tls_ring_worker_next_to_a_plaintext_one_fails_at_once_naming_it(job_tls):
    plain = RingAllReduce(1, 2, deadline=DEADLINE_SECONDS)
    secure = RingAllReduce(0, 2, deadline=DEADLINE_SECONDS, tls=job_tls)
    try:
        message = connect_fails_fast(secure, [secure.address, plain.address])
    finally:
        plain.close()
        secure.close()
    assert plain.address in message and "it does not speak TLS" in message


def outsider_tls(pki):
    """A PeerTLS that trusts the job's CA but shows a certificate of another CA (load_peer_tls would refuse it)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.set_alpn_protocols(["h2"])
    context.load_cert_chain(pki["outsider_cert"], pki["outsider_key"])
    context.load_verify_locations(cafile=pki["ca"])
    pems = [pki[name].read_bytes() for name in ("outsider_cert", "outsider_key", "ca")]
    paths = [str(pki[name]) for name in ("outsider_cert", "outsider_key", "ca")]
    return PeerTLS(*paths, *pems, context)


def hello(address, tls):
    """A ring worker's Hello over plain gRPC with ``tls``'s credentials: its reply, or its gRPC error."""
    with grpc.secure_channel(address, tls.channel_credentials()) as channel:
        try:
            return allreduce_pb2_grpc.RingAllReduceStub(channel).Hello(allreduce_pb2.HelloRequest(), timeout=5)
        except grpc.RpcError as error:
            return error


def test_a_ring_worker_answers_only_clients_whose_certificate_the_job_ca_signed(pki, job_tls):
    server = RingAllReduce(0, 1, tls=job_tls)
    try:
        member, outsider = hello(server.address, job_tls), hello(server.address, outsider_tls(pki))
    finally:
        server.close()
    assert isinstance(member, allreduce_pb2.HelloReply) and member.world_size == 1
    # Trusting the server is not enough: require_client_auth turns the outsider's certificate away.
    assert isinstance(outsider, grpc.RpcError) and outsider.code() == grpc.StatusCode.UNAVAILABLE


def test_a_shard_refusing_a_worker_certificate_is_named_at_once(pki, job_tls):
    outsider = outsider_tls(pki)
    with ParameterServer(2, tls=job_tls) as server, pytest.raises(PeerTLSError) as named:
        ParameterServerClient([server.address], 1, tls=outsider)
    assert f"worker 1: parameter server {server.address}" in str(named.value)
    assert f"it refused this process's certificate --tls-cert {pki['outsider_cert']}" in str(named.value)


def test_a_plaintext_worker_is_told_the_shard_serves_tls(job_tls):
    with ParameterServer(2, tls=job_tls) as server:
        started = time.monotonic()
        with pytest.raises(PeerTLSError, match="it serves TLS and this process does not"):
            ParameterServerClient([server.address], 0)
        assert time.monotonic() - started < FAIL_FAST_SECONDS


def test_a_certificate_that_does_not_name_the_dialled_host_is_refused_by_the_client(pki, job_tls):
    localhost_only = load_peer_tls(pki["localhost_cert"], pki["localhost_key"], pki["ca"])
    with ParameterServer(2, "127.0.0.1:0", tls=localhost_only) as server:
        problem = handshake_problem(server.address, job_tls)
        assert handshake_problem(server.address.replace("127.0.0.1", "localhost"), job_tls) is None
    assert "certificate is not valid for '127.0.0.1'" in problem and "name its host" in problem


def test_matching_peers_and_absent_peers_have_no_problem(job_tls):
    with ParameterServer(2, tls=job_tls) as server:
        assert handshake_problem(server.address, job_tls) is None
    with ParameterServer(2) as server:
        assert handshake_problem(server.address, None) is None
    assert handshake_problem(server.address, job_tls) is None  # stopped: nothing listens, the caller waits on


def test_both_trainers_hand_their_tls_to_the_ring_and_the_shards(job_tls):
    graph, x, y, loss = build_mlp(0)
    kargs = trainer_kargs("GradientDescent", graph, x, y, loss)
    (address,) = launch.free_loopback_addresses(1)
    ring = DistTrainerRingAllReduce(**kargs, cluster_conf={"workers": [address]}, worker_index=0, tls=job_tls)
    try:
        assert "it serves TLS" in handshake_problem(address, None)
    finally:
        ring.close()
    with ParameterServer(1) as plaintext_shard, pytest.raises(PeerTLSError, match="it does not speak TLS"):
        conf = {"ps": [plaintext_shard.address], "workers": ["w"]}
        DistTrainerParameterServer(**kargs, cluster_conf=conf, worker_index=0, tls=job_tls)


def test_the_launch_environment_carries_the_tls_files_to_every_process(job_tls):
    spec = {"ps": [], "workers": ["127.0.0.1:1", "127.0.0.1:2"]}
    place = cluster.current(cluster.environment(spec, cluster.WORKER, 1, tls=job_tls))
    assert (place.tls.cert_path, place.tls.key_path, place.tls.ca_path) == (
        job_tls.cert_path,
        job_tls.key_path,
        job_tls.ca_path,
    )
    assert place.trainer_options()["tls"] is place.tls
    assert cluster.current(cluster.environment(spec, cluster.WORKER, 1)).tls is None


def test_an_unreadable_file_in_the_launch_environment_names_its_variable(job_tls, tmp_path):
    spec = {"workers": ["127.0.0.1:1"]}
    environ = cluster.environment(spec, cluster.WORKER, 0, tls=dataclasses.replace(job_tls, key_path="/nowhere.pem"))
    with pytest.raises(cluster.ClusterError, match="MATRIXSLOW_TLS_KEY /nowhere.pem: cannot read the file"):
        cluster.current(environ)


@pytest.mark.parametrize(
    "case, expected",
    [
        ("no key", "--tls-cert and --tls-ca need --tls-key as well"),
        ("only ca", "--tls-ca need --tls-cert and --tls-key as well"),
        ("missing ca", "--tls-ca {tmp}/missing.pem: cannot read the file (No such file or directory)"),
        ("key as ca", "--tls-ca {key}: the file holds no PEM CA certificate"),
        ("other ca", "--tls-cert {cert} is not signed by --tls-ca {outsider_ca} (unable to get local issuer"),
        ("other key", "--tls-key {outsider_key} is not the private key of --tls-cert {cert}"),
    ],
)
def test_bad_tls_flags_stop_the_launcher_before_anything_starts(pki, tmp_path, capsys, case, expected):
    given = {
        "no key": {"--tls-cert": pki["cert"], "--tls-ca": pki["ca"]},
        "only ca": {"--tls-ca": pki["ca"]},
        "missing ca": {"--tls-cert": pki["cert"], "--tls-key": pki["key"], "--tls-ca": tmp_path / "missing.pem"},
        "key as ca": {"--tls-cert": pki["cert"], "--tls-key": pki["key"], "--tls-ca": pki["key"]},
        "other ca": {"--tls-cert": pki["cert"], "--tls-key": pki["key"], "--tls-ca": pki["outsider_ca"]},
        "other key": {"--tls-cert": pki["cert"], "--tls-key": pki["outsider_key"], "--tls-ca": pki["ca"]},
    }[case]
    marker = tmp_path / "started"
    script = tmp_path / "touch.py"
    script.write_text(f"open({str(marker)!r}, 'w').close()\n")
    flags = [str(item) for pair in given.items() for item in pair]
    status = launch.main(["--mode", "allreduce", "--workers", "1", *flags, str(script)])
    assert status == 2
    assert expected.format(tmp=tmp_path, **pki) in capsys.readouterr().err
    assert not marker.exists()


def test_no_tls_files_mean_plaintext(pki):
    assert load_peer_tls(None, None, None) is None
    with pytest.raises(TLSConfigError):
        load_peer_tls(None, None, pki["ca"])  # one file alone is an error, not plaintext
