"""Mutual TLS between the processes of a job: one CA, and a certificate and key for every process.

Plaintext by default. Given ``--tls-cert``, ``--tls-key`` and ``--tls-ca`` (PEM files), every
parameter server and ring worker serves TLS only and takes only clients whose certificate the CA
signed; every client checks that the server's certificate is signed by the same CA and names the
host it dialled, as the cluster spec spells it (``127.0.0.1``, ``10.0.0.2``, ``node-3``). A single
certificate that names every host of the spec serves the whole job.

gRPC gives no reason when a handshake fails: a client that waits for its peer keeps waiting until
its deadline. So a client that cannot reach a listening peer asks ``handshake_problem``, which
redoes the handshake with Python's ``ssl`` and says what does not match, at once.
"""

import contextlib
import os
import socket
import ssl
from dataclasses import dataclass

from ..extras import needs_extra
from ..tls_files import CERT_MARKER, KEY_MARKER, TLSConfigError, load_key_pair, read_pem

with needs_extra("dist", __name__):
    import grpc

FLAGS = ("--tls-cert", "--tls-key", "--tls-ca")
# How long a handshake probe may take: the peer is on a network a training job can use.
PROBE_SECONDS = 2.0
# The rest of the TLS options a job must agree on; named in every mismatch.
AGREE = "every process of the job needs --tls-cert, --tls-key and --tls-ca of the same CA"


class PeerTLSError(ConnectionError):
    """A peer listens but a TLS connection to it cannot work; the message names the peer and why."""


@dataclass(frozen=True)
class PeerTLS:
    """This process's certificate, key and the job's CA, checked, as gRPC and ``ssl`` take them.

    Attributes
    ----------
    cert_path, key_path, ca_path : str
        Absolute paths, handed on to the processes a launcher starts.
    cert_pem, key_pem, ca_pem : bytes
        The files' contents.
    context : ssl.SSLContext
        A client context of the same files (see ``handshake_problem``).
    """

    cert_path: str
    key_path: str
    ca_path: str
    cert_pem: bytes
    key_pem: bytes
    ca_pem: bytes
    context: ssl.SSLContext

    def server_credentials(self):
        """Serve this certificate; refuse any client without a certificate the CA signed."""
        return grpc.ssl_server_credentials(
            [(self.key_pem, self.cert_pem)], root_certificates=self.ca_pem, require_client_auth=True
        )

    def channel_credentials(self):
        """Show this certificate; accept only a server whose certificate the CA signed."""
        return grpc.ssl_channel_credentials(
            root_certificates=self.ca_pem, private_key=self.key_pem, certificate_chain=self.cert_pem
        )


def load_peer_tls(cert_path, key_path, ca_path, options=FLAGS):
    """The PeerTLS of the three files, or None when none is given (plaintext).

    Parameters
    ----------
    cert_path, key_path, ca_path : str or path-like or None
    options : tuple of str
        What to call the three in errors: the launcher's flags, or the environment variables it set.

    Raises
    ------
    TLSConfigError
        When only some are given, a file cannot be read or holds no PEM of its kind, the key is
        encrypted or not the certificate's, or the certificate is not signed by the CA.
    """
    paths = (cert_path, key_path, ca_path)
    if all(path is None for path in paths):
        return None
    missing = [option for option, path in zip(options, paths, strict=True) if path is None]
    if missing:
        given = [option for option, path in zip(options, paths, strict=True) if path is not None]
        raise TLSConfigError(
            f"{' and '.join(given)} need {' and '.join(missing)} as well: TLS between the processes of a job "
            "takes this process's certificate, its private key and the job's CA"
        )
    cert_path, key_path, ca_path = (os.path.abspath(path) for path in paths)
    cert_option, key_option, ca_option = options
    cert_pem = read_pem(cert_path, cert_option, CERT_MARKER, "PEM certificate")
    key_pem = read_pem(key_path, key_option, KEY_MARKER, "PEM private key")
    ca_pem = read_pem(ca_path, ca_option, CERT_MARKER, "PEM CA certificate")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.set_alpn_protocols(["h2"])  # as gRPC offers it
    load_key_pair(context, cert_path, key_path, cert_option, key_option)
    try:
        context.load_verify_locations(cafile=ca_path)
    except ssl.SSLError as error:
        raise TLSConfigError(f"{ca_option} {ca_path}: OpenSSL cannot load it ({error.reason or error})") from None
    refused = _refused_by_ca(cert_path, key_path, ca_path)
    if refused:
        raise TLSConfigError(f"{cert_option} {cert_path} is not signed by {ca_option} {ca_path} ({refused})")
    return PeerTLS(cert_path, key_path, ca_path, cert_pem, key_pem, ca_pem, context)


def _refused_by_ca(cert_path, key_path, ca_path):
    """Why the CA does not accept the certificate (unknown issuer, expired), or None: one handshake in memory."""
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert_path, key_path)
    client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client.check_hostname = False  # the host is the spec's, unknown here; handshake_problem checks it
    client.load_verify_locations(cafile=ca_path)
    to_client, to_server = ssl.MemoryBIO(), ssl.MemoryBIO()
    client_end = client.wrap_bio(to_client, to_server)
    server_end = server.wrap_bio(to_server, to_client, server_side=True)
    for _ in range(8):  # a TLS 1.3 handshake takes two rounds
        try:
            client_end.do_handshake()
            return None
        except ssl.SSLWantReadError:
            pass
        except ssl.SSLCertVerificationError as error:
            return error.verify_message
        with contextlib.suppress(ssl.SSLWantReadError):
            server_end.do_handshake()
    return "the in-memory handshake did not finish"


def open_channel(address, options, tls):
    """A gRPC channel to ``address``: over TLS when ``tls`` is a PeerTLS, plaintext when None."""
    if tls is None:
        return grpc.insecure_channel(address, options=options)
    return grpc.secure_channel(address, tls.channel_credentials(), options=options)


def check_peer(address, tls, who):
    """Raise PeerTLSError naming ``who`` when ``address`` listens but ``handshake_problem`` finds a mismatch."""
    problem = handshake_problem(address, tls)
    if problem is not None:
        raise PeerTLSError(f"{who}: {problem}")


def handshake_problem(address, tls, timeout=PROBE_SECONDS):
    """Why a gRPC connection to ``address`` with ``tls`` (None: plaintext) fails its handshake, or None.

    None too when nothing listens at ``address`` yet: the caller goes on waiting for it, and its
    own deadline names the peer.
    """
    host, port = address.rsplit(":", 1)
    host = host.strip("[]")  # an IPv6 literal, "[::1]:7000"
    try:
        raw = socket.create_connection((host, int(port)), timeout=timeout)
    except OSError:
        return None
    with raw:
        return _plaintext_problem(raw) if tls is None else _tls_problem(raw, host, tls, timeout)


def _plaintext_problem(raw):
    anyone = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    anyone.check_hostname, anyone.verify_mode = False, ssl.CERT_NONE  # only: does it answer TLS at all?
    try:
        with anyone.wrap_socket(raw):
            pass
    except (ssl.SSLError, OSError):
        return None  # it speaks plaintext, as this process does
    return f"it serves TLS and this process does not: {AGREE}"


def _tls_problem(raw, host, tls, timeout):
    try:
        tls_socket = tls.context.wrap_socket(raw, server_hostname=host)
    except ssl.SSLCertVerificationError as error:
        return (
            f"its certificate fails this process's check ({error.verify_message}): each certificate must be "
            f"signed by --tls-ca {tls.ca_path} and name its host as the cluster spec does"
        )
    except ssl.SSLError as error:
        if error.reason == "WRONG_VERSION_NUMBER":
            return f"it does not speak TLS (started without --tls-cert, --tls-key and --tls-ca?): {AGREE}"
        return f"the TLS handshake failed ({error.reason or error}): {AGREE}"
    except OSError as error:
        return f"it closed the connection during the TLS handshake ({error.strerror or error}): {AGREE}"
    with tls_socket:
        # In TLS 1.3 the server judges the client's certificate after the client's handshake is done:
        # a gRPC server that accepts it sends its HTTP/2 settings, one that refuses just closes.
        tls_socket.settimeout(timeout)
        try:
            accepted = tls_socket.recv(1)
        except TimeoutError:
            return None
        except (ssl.SSLError, OSError):
            accepted = b""
    if not accepted:
        return (
            f"it refused this process's certificate --tls-cert {tls.cert_path}: "
            "the peer's --tls-ca is not the CA that signed it"
        )
    return None
