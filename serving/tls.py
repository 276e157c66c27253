"""TLS for both front ends: one certificate and its private key, read and checked once at startup.

Plaintext by default. Given ``--tls-cert`` and ``--tls-key`` (PEM files), the gRPC port takes
``grpc.ssl_server_credentials`` and the HTTP port an ``ssl.SSLContext``, both made from the same
files, so a bad file stops the server before it loads the model rather than at the first client.
"""

import ssl
from dataclasses import dataclass

import grpc

from matrixslow.tls_files import CERT_MARKER, KEY_MARKER, TLSConfigError, load_key_pair, read_pem


@dataclass(frozen=True)
class ServerTLS:
    """A checked certificate chain and key, in the two forms the front ends take.

    Attributes
    ----------
    cert_pem, key_pem : bytes
        The files' contents (gRPC takes PEM bytes).
    context : ssl.SSLContext
        A server context holding the same pair (the HTTP front end wraps its connections with it).
    """

    cert_pem: bytes
    key_pem: bytes
    context: ssl.SSLContext

    def grpc_credentials(self):
        return grpc.ssl_server_credentials([(self.key_pem, self.cert_pem)])


def load_server_tls(cert_path, key_path):
    """The ServerTLS for ``cert_path`` and ``key_path``, or None when both are None (plaintext).

    Raises
    ------
    TLSConfigError
        When only one is given, a file cannot be read or holds no PEM of its kind, the key is
        encrypted, or the key does not belong to the certificate.
    """
    if cert_path is None and key_path is None:
        return None
    if key_path is None or cert_path is None:
        given, missing = ("--tls-cert", "--tls-key") if key_path is None else ("--tls-key", "--tls-cert")
        raise TLSConfigError(f"{given} needs {missing} as well: TLS takes a certificate and its private key")
    cert_pem = read_pem(cert_path, "--tls-cert", CERT_MARKER, "PEM certificate")
    key_pem = read_pem(key_path, "--tls-key", KEY_MARKER, "PEM private key")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    load_key_pair(context, cert_path, key_path, "--tls-cert", "--tls-key")
    return ServerTLS(cert_pem, key_pem, context)
