"""``python -m matrixslow.serving --model-dir DIR`` (or ``matrixslow-serving``): serve a saved model over gRPC and HTTP.

Exit status: 0 after SIGTERM or SIGINT (requests in flight are finished first), 2 when the
model directory has no loadable version (with ``--strict-versions``: when any version tried
fails), a port cannot be bound, a TLS file cannot be used or the ``serving`` extra is not
installed (the message says why). A newest version that fails while an older one loads is
logged and reported in the status, and the older one is served. ``--help`` works without the extra.
"""

import argparse
import logging
import os
import signal
import sys
import threading

from matrixslow.extras import MissingExtraError, needs_extra

from .settings import BATCH_WAITS, DEFAULT_MAX_REQUEST_BYTES


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="matrixslow-serving", description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", required=True, help="directory of versions DIR/1, DIR/2, ... (Saver output)")
    parser.add_argument("--model-name", default=None, help="name clients use (default: the directory's name)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    parser.add_argument("--port", type=int, default=8500, help="gRPC port (default 8500)")
    parser.add_argument("--http-port", type=int, default=None, help="HTTP/JSON and /metrics port (default: none)")
    parser.add_argument("--max-batch-size", type=int, default=64, help="samples per forward pass; 1 = no batching")
    parser.add_argument(
        "--batch-timeout-ms", type=float, default=2.0, help="how long a request waits for others to join its batch"
    )
    parser.add_argument(
        "--batch-wait",
        choices=BATCH_WAITS,
        default="adaptive",
        help="stop waiting once as many requests as in the last batch have come (default), or always wait",
    )
    parser.add_argument("--max-queue", type=int, default=1024, help="waiting requests before RESOURCE_EXHAUSTED")
    parser.add_argument("--poll-seconds", type=float, default=1.0, help="how often to look for a new version")
    parser.add_argument(
        "--keep-versions",
        type=int,
        default=1,
        metavar="N",
        help="keep the N most recent good versions loaded, so requests may pin one (default 1)",
    )
    parser.add_argument(
        "--strict-versions",
        action="store_true",
        help="refuse to start if any version tried fails to load (default: serve the newest that loads)",
    )
    parser.add_argument(
        "--max-request-bytes", type=int, default=DEFAULT_MAX_REQUEST_BYTES, help="largest request's input values"
    )
    parser.add_argument("--grace-seconds", type=float, default=30.0, help="time in-flight requests get on SIGTERM")
    parser.add_argument("--tls-cert", metavar="PATH", help="PEM certificate chain; with --tls-key both ports serve TLS")
    parser.add_argument("--tls-key", metavar="PATH", help="PEM private key of --tls-cert")
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    for flag in ("max_batch_size", "max_queue", "max_request_bytes", "keep_versions"):
        if getattr(args, flag) < 1:
            parser.error(f"--{flag.replace('_', '-')} must be at least 1")
    if args.batch_timeout_ms < 0 or args.poll_seconds <= 0:
        parser.error("--batch-timeout-ms must be >= 0 and --poll-seconds > 0")
    return args


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:  # after parsing, so --help and flag errors need no gRPC
        with needs_extra("serving", "python -m matrixslow.serving"):
            from .errors import ModelLoadError
            from .server import ServingApp, ServingConfig
    except MissingExtraError as error:
        print(f"matrixslow-serving: cannot start: {error}", file=sys.stderr)
        return 2
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(name)s %(levelname)s: %(message)s")
    model_name = args.model_name or os.path.basename(os.path.normpath(args.model_dir))
    config = ServingConfig(
        model_dir=args.model_dir,
        model_name=model_name,
        host=args.host,
        port=args.port,
        http_port=args.http_port,
        max_batch_size=args.max_batch_size,
        batch_timeout_ms=args.batch_timeout_ms,
        batch_wait=args.batch_wait,
        max_queue=args.max_queue,
        poll_seconds=args.poll_seconds,
        max_request_bytes=args.max_request_bytes,
        grace_seconds=args.grace_seconds,
        keep_versions=args.keep_versions,
        strict_versions=args.strict_versions,
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
    )
    app = ServingApp(config)
    try:
        app.start()
    except (ModelLoadError, OSError, RuntimeError) as error:
        print(f"matrixslow-serving: cannot start: {error}", file=sys.stderr)
        return 2
    stop = threading.Event()
    # The handler only sets the event: the main thread does the stopping, outside signal context.
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    while not stop.wait(0.5):
        pass
    logging.getLogger("serving").info("stopping: finishing requests in flight")
    app.stop()
    logging.getLogger("serving").info("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
