"""The ports the servers listen on: one that cannot be bound is an error naming it and the flag that moves it.

Why check before gRPC binds: when ``add_insecure_port`` fails, gRPC's C core prints its own
``add_port.cc`` log line on stderr and raises an error that names neither the port nor the
cause. ``GRPC_VERBOSITY=NONE`` would hide that line, but gRPC reads it once, at import, and it
would hide every later gRPC error too. So ``check_can_listen`` binds the address itself first,
as gRPC would (``SO_REUSEADDR``, no ``SO_REUSEPORT``), and closes it again. A port taken in the
moment between that check and gRPC's own bind still fails, with gRPC's line and
``matrixslow.codec.tensors.bind``'s message.
"""

import errno
import socket


class PortUnavailable(OSError):
    """A server cannot listen on ``host:port``; the message says why and, from the command line, which flag to set."""


def listen_error(who, host, port, error, port_flag=None):
    """The PortUnavailable for ``who`` (e.g. "the HTTP server") failing to bind ``host:port`` with OSError ``error``.

    ``port_flag`` is the command-line flag that sets the port (``--http-port``); with it, the
    message names the flag to change (``--host`` when the host is at fault).
    """
    fix = port_flag
    if isinstance(error, socket.gaierror):
        reason, fix = f"the host {host!r} does not resolve ({error.strerror})", "--host"
    elif error.errno == errno.EADDRINUSE:
        reason = "the port is in use"
    elif error.errno == errno.EADDRNOTAVAIL:
        reason, fix = f"{host} is not an address of this machine", "--host"
    elif error.errno == errno.EACCES:
        reason = "permission denied (ports below 1024 need root)"
    else:
        reason = error.strerror or str(error)
    message = f"{who} cannot listen on {host}:{port}: {reason}"
    if port_flag is not None:
        message += f"; choose another with {fix}"
    unavailable = PortUnavailable(message)
    unavailable.errno = error.errno
    return unavailable


def check_can_listen(host, port, who, port_flag=None):
    """Raise PortUnavailable unless ``host:port`` can be bound now, as gRPC binds it.

    Like gRPC, this passes when at least one of the host's addresses binds (``localhost`` may
    be both 127.0.0.1 and ::1). Port 0 (any free port) always passes.
    """
    if port == 0:
        return
    name = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        addresses = socket.getaddrinfo(name, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as error:
        raise listen_error(who, host, port, error, port_flag) from None
    first_error = None
    for family, kind, protocol, _, address in addresses:
        with socket.socket(family, kind, protocol) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(address)
                return
            except OSError as error:
                first_error = first_error or error
    raise listen_error(who, host, port, first_error, port_flag) from None
