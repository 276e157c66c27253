"""PEM files for TLS, read and checked at startup: shared by ``serving.tls`` and ``matrixslow.dist.tls``.

Every error names the option the file came from (a flag such as ``--tls-cert``, or the
environment variable a launcher set) and the file, so a bad file stops a process before it
serves, not at its first peer.
"""

import ssl

CERT_MARKER = b"-----BEGIN CERTIFICATE-----"
KEY_MARKER = b"PRIVATE KEY-----"  # PKCS#8, RSA and EC keys all end their BEGIN line so


class TLSConfigError(RuntimeError):
    """The TLS files cannot be used; the message names the option and the file."""


def read_pem(path, option, marker, kind):
    """The bytes of ``path``, which must hold ``marker``; errors name ``option``, the file and ``kind``."""
    try:
        with open(path, "rb") as file:
            data = file.read()
    except OSError as error:
        raise TLSConfigError(f"{option} {path}: cannot read the file ({error.strerror or error})") from None
    if marker not in data:
        raise TLSConfigError(f"{option} {path}: the file holds no {kind}")
    return data


def load_key_pair(context, cert_path, key_path, cert_option, key_option):
    """``context.load_cert_chain(cert_path, key_path)``, failing with a TLSConfigError naming both options."""

    def encrypted():  # OpenSSL would otherwise ask for the passphrase on the terminal
        raise TLSConfigError(f"{key_option} {key_path}: the key is encrypted; give an unencrypted PEM key")

    try:
        context.load_cert_chain(cert_path, key_path, password=encrypted)
    except ssl.SSLError as error:
        if error.reason == "KEY_VALUES_MISMATCH":
            raise TLSConfigError(
                f"{key_option} {key_path} is not the private key of {cert_option} {cert_path}"
            ) from None
        raise TLSConfigError(
            f"{cert_option} {cert_path} / {key_option} {key_path}: OpenSSL cannot load them ({error.reason or error})"
        ) from None
