"""TLS for both front ends: one certificate and its private key, read and checked once at startup.

Plaintext by default. Given ``--tls-cert`` and ``--tls-key`` (PEM files), the gRPC port takes
``grpc.ssl_server_credentials`` and the HTTP port an ``ssl.SSLContext``, both made from the same
files, so a bad file stops the server before it loads the model rather than at the first client.
"""

import ssl
from dataclasses import dataclass

import grpc


class TLSConfigError(RuntimeError):
    """The TLS files cannot be used; the message names the flag and the file."""


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
    cert_pem = _read_pem(cert_path, "--tls-cert", b"-----BEGIN CERTIFICATE-----", "PEM certificate")
    key_pem = _read_pem(key_path, "--tls-key", b"PRIVATE KEY-----", "PEM private key")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)

    def encrypted():  # OpenSSL would otherwise ask for the passphrase on the terminal
        raise TLSConfigError(f"--tls-key {key_path}: the key is encrypted; give an unencrypted PEM key")

    try:
        context.load_cert_chain(cert_path, key_path, password=encrypted)
    except ssl.SSLError as error:
        if error.reason == "KEY_VALUES_MISMATCH":
            raise TLSConfigError(f"--tls-key {key_path} is not the private key of --tls-cert {cert_path}") from None
        raise TLSConfigError(
            f"--tls-cert {cert_path} / --tls-key {key_path}: OpenSSL cannot load them ({error.reason or error})"
        ) from None
    return ServerTLS(cert_pem, key_pem, context)


def _read_pem(path, flag, marker, kind):
    try:
        with open(path, "rb") as file:
            data = file.read()
    except OSError as error:
        raise TLSConfigError(f"{flag} {path}: cannot read the file ({error.strerror or error})") from None
    if marker not in data:
        raise TLSConfigError(f"{flag} {path}: the file holds no {kind}")
    return data
