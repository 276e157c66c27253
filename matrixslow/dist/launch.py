"""Start a distributed training job: parameter servers and one process per worker.

On one machine (free loopback ports are picked)::

    python -m matrixslow.dist.launch --mode allreduce --workers 3 script.py [args]
    python -m matrixslow.dist.launch --mode ps --ps 2 --workers 3 script.py [args]

Across machines, one process per call, addresses from a spec file ``{"ps": [...], "workers": [...]}``::

    python -m matrixslow.dist.launch --cluster spec.json --role ps --index 0
    python -m matrixslow.dist.launch --cluster spec.json --role worker --index 1 script.py [args]

Every worker runs ``script.py`` with its place in the environment (see ``cluster.current()``);
parameter servers run inside the launcher (``--role ps``). Each output line is prefixed with
its process, e.g. ``[worker 1] ...``. The exit status is 0 when every worker succeeds; when any
process fails the others are terminated (then killed after ``--grace`` seconds) and it is non-zero.

A parameter server does not outlive its job: it exits 0 once every worker has left the run, names
a worker silent for ``--deadline`` seconds (that run is over, a restarted job begins a new one), and
exits 1 when no run is live for ``--restart-window`` seconds.

With ``--tls-cert``, ``--tls-key`` and ``--tls-ca`` (PEM files, checked before anything starts)
every shard and worker talks mutual TLS: each serves TLS only, to peers whose certificate the CA
signed, and each certificate must name its host as the spec does (see ``matrixslow.dist.tls``).
On one machine every process uses the same files; across machines give each call its own.
"""

import argparse
import contextlib
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time

from ..extras import MissingExtraError, require_extra
from ..tls_files import TLSConfigError
from . import cluster

LOOPBACK = "127.0.0.1"
POLL_SECONDS = 0.05
DEFAULT_GRACE_SECONDS = 5.0
PS_READY_SECONDS = 30.0
DEFAULT_RESTART_WINDOW_SECONDS = 60.0
# Gradients travel in parts of about 1 MiB, and every part is a fresh buffer. By default glibc
# maps blocks that large from the kernel and unmaps them on free, so each new one costs a page
# fault per 4 KiB: most of the time of a parameter-server push. Raising its thresholds (only in
# the processes the launcher starts, only if the user set nothing) lets freed blocks be reused.
ALLOCATOR_ENV = {"MALLOC_MMAP_THRESHOLD_": str(32 << 20), "MALLOC_TRIM_THRESHOLD_": str(256 << 20)}


def free_loopback_addresses(count):
    """``count`` distinct ``127.0.0.1:port`` addresses that were free a moment ago."""
    probes = [socket.socket() for _ in range(count)]
    try:
        for probe in probes:  # all held open at once, so the ports differ
            probe.bind((LOOPBACK, 0))
        return [f"{LOOPBACK}:{probe.getsockname()[1]}" for probe in probes]
    finally:
        for probe in probes:
            probe.close()


def local_spec(mode, num_ps, num_workers):
    """A one-machine spec on free loopback ports."""
    if num_workers < 1:
        raise cluster.ClusterError(f"--workers must be at least 1, got {num_workers}")
    if mode == cluster.PS_MODE and num_ps < 1:
        raise cluster.ClusterError(f"--mode ps needs --ps of at least 1, got {num_ps}")
    num_ps = num_ps if mode == cluster.PS_MODE else 0
    addresses = free_loopback_addresses(num_ps + num_workers)
    return {"ps": addresses[:num_ps], "workers": addresses[num_ps:]}


def wait_until_listening(address, process, timeout):
    """Return once ``address`` accepts TCP connections; raise if ``process`` dies or ``timeout`` passes."""
    host, port = address.rsplit(":", 1)
    give_up_at = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"parameter server {address} exited with status {process.returncode} before serving")
        try:
            with socket.create_connection((host, int(port)), timeout=POLL_SECONDS * 4):
                return
        except OSError:
            if time.monotonic() > give_up_at:
                raise RuntimeError(f"parameter server {address} did not listen within {timeout:g} s") from None
            time.sleep(POLL_SECONDS)


class Job:
    """The processes of one launch, their prefixed output, and their shutdown."""

    def __init__(self, grace=DEFAULT_GRACE_SECONDS, out=None):
        self.grace = grace
        self.out = out or sys.stdout
        self.processes = []  # (label, Popen)
        self._pumps = []
        self._print_lock = threading.Lock()

    def start(self, label, command, extra_env):
        env = {**ALLOCATOR_ENV, **os.environ, "PYTHONUNBUFFERED": "1", **extra_env}
        process = subprocess.Popen(
            command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            text=True, errors="replace", bufsize=1, start_new_session=True,
        )  # fmt: skip
        pump = threading.Thread(target=self._pump, args=(label, process.stdout), daemon=True)
        pump.start()
        self.processes.append((label, process))
        self._pumps.append(pump)
        return process

    def _pump(self, label, stream):
        # One line at a time under a lock, so lines of different processes never interleave mid-line.
        for line in stream:
            with self._print_lock:
                self.out.write(f"[{label}] {line.rstrip(chr(10))}\n")
                self.out.flush()
        stream.close()

    def say(self, message):
        with self._print_lock:
            self.out.write(f"[launch] {message}\n")
            self.out.flush()

    def wait_for(self, workers, timeout=None):
        """Wait until every process in ``workers`` succeeds (0) or any process fails; returns the exit status."""
        give_up_at = None if timeout is None else time.monotonic() + timeout
        while True:
            for label, process in self.processes:
                status = process.poll()
                # A shard exits 0 once every worker has left its run: the workers are finishing, not failing.
                if status is not None and status != 0:
                    self.say(f"{label} exited with status {status}; stopping the others")
                    return status or 1
            if all(process.poll() == 0 for process in workers):
                return 0
            if give_up_at is not None and time.monotonic() > give_up_at:
                self.say(f"timed out after {timeout:g} s; stopping every process")
                return 1
            time.sleep(POLL_SECONDS)

    def stop_all(self):
        """Terminate what still runs, kill it after ``grace`` seconds, and drain the output."""
        running = [process for _, process in self.processes if process.poll() is None]
        for process in running:
            _signal_group(process, signal.SIGTERM)
        give_up_at = time.monotonic() + self.grace
        for process in running:
            try:
                process.wait(timeout=max(0.0, give_up_at - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal_group(process, signal.SIGKILL)
                process.wait(timeout=self.grace)
        for pump in self._pumps:
            pump.join(timeout=self.grace)


def _signal_group(process, signum):
    # Each child leads its own session, so its own children (if any) get the signal too.
    with contextlib.suppress(ProcessLookupError):  # it has already gone
        os.killpg(process.pid, signum)


def serve_ps(
    spec,
    index,
    bind_host=None,
    deadline=cluster.DEFAULT_DEADLINE_SECONDS,
    restart_window=DEFAULT_RESTART_WINDOW_SECONDS,
    tls=None,
):
    """Run parameter-server shard ``index`` of ``spec`` until its job ends, SIGTERM or SIGINT; returns the exit status.

    0 once every worker has left the run (the job finished) or on a signal; 1 when no run has
    been live for ``restart_window`` seconds (none begun, or its workers went silent and no
    restarted job began another): a shard nobody uses does not wait forever. With ``tls`` (a
    ``matrixslow.dist.tls.PeerTLS``) it serves TLS only.
    """
    from .ps import ParameterServer  # imports gRPC: only the processes that serve need it
    from .ps.runs import FINISHED, LIVE, LOG

    _log_to_stdout(LOG)
    host, port = spec["ps"][index].rsplit(":", 1)
    server = ParameterServer(len(spec["workers"]), f"{bind_host or host}:{port}", deadline=deadline, tls=tls)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    address = server.start()
    over_tls = " over TLS" if tls is not None else ""
    print(f"serving parameter shard {index} on {address}{over_tls} for {len(spec['workers'])} workers", flush=True)
    try:
        while not stop.wait(min(1.0, deadline / 10)):
            phase, idle, why = server.state.lifecycle()
            if phase == FINISHED:
                print(f"parameter shard {index}: every worker left its run; the job is finished, exiting", flush=True)
                return 0
            if phase != LIVE and idle >= restart_window:
                why = f"the last run ended: {why}" if why else "no worker has begun one"
                print(
                    f"parameter shard {index}: no live run for {idle:.1f} s (--restart-window {restart_window:g}): "
                    f"{why}; exiting with status 1",
                    flush=True,
                )
                return 1
    finally:
        server.stop(grace=1.0)
    return 0


def _log_to_stdout(logger):
    # The shard's own lines (runs begun, workers gone silent) go where its other lines go: the launcher prefixes them.
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False


def _ps_command(index, bind_host, restart_window):
    command = [sys.executable, "-m", "matrixslow.dist.launch", "--serve-ps", "--index", str(index)]
    command += ["--restart-window", repr(float(restart_window))]
    return command + (["--bind", bind_host] if bind_host else [])


def _worker_command(script, script_args):
    return [sys.executable, script, *script_args]


def run_local(spec, script, script_args, grace, timeout, bind_host=None, options=None):
    """Start every shard and worker of ``spec`` here; returns the exit status.

    ``options`` are the job's keyword arguments for ``cluster.environment`` (deadline, checkpoints,
    tls) and ``restart_window``, the shards'.
    """
    options = dict(options or {})
    restart_window = options.pop("restart_window", DEFAULT_RESTART_WINDOW_SECONDS)
    job = Job(grace)
    try:
        for index, address in enumerate(spec["ps"]):
            place = cluster.environment(spec, cluster.PS, index, **options)
            process = job.start(f"ps {index}", _ps_command(index, bind_host, restart_window), place)
            wait_until_listening(address, process, PS_READY_SECONDS)
        command = _worker_command(script, script_args)
        workers = [
            job.start(f"worker {index}", command, cluster.environment(spec, cluster.WORKER, index, **options))
            for index in range(len(spec["workers"]))
        ]
        return job.wait_for(workers, timeout)
    except RuntimeError as error:
        job.say(str(error))
        return 1
    except KeyboardInterrupt:
        job.say("interrupted; stopping every process")
        return 130
    finally:
        job.stop_all()


def run_one(spec, role, index, script, script_args, grace, timeout, bind_host=None, options=None):
    """Run just this machine's ``role`` ``index`` of ``spec``; returns the exit status."""
    options = dict(options or {})
    restart_window = options.pop("restart_window", DEFAULT_RESTART_WINDOW_SECONDS)
    if role == cluster.PS:
        deadline = options.get("deadline", cluster.DEFAULT_DEADLINE_SECONDS)
        return serve_ps(spec, index, bind_host, deadline, restart_window, options.get("tls"))
    job = Job(grace)
    try:
        command = _worker_command(script, script_args)
        worker = job.start(f"worker {index}", command, cluster.environment(spec, role, index, **options))
        return job.wait_for([worker], timeout)
    except KeyboardInterrupt:
        return 130
    finally:
        job.stop_all()


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m matrixslow.dist.launch", description=__doc__.split("\n")[0])
    parser.add_argument("--mode", choices=[cluster.ALLREDUCE_MODE, cluster.PS_MODE], help="one-machine launch")
    parser.add_argument("--ps", type=int, default=1, help="parameter servers (--mode ps; default 1)")
    parser.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    parser.add_argument("--cluster", metavar="SPEC.json", help='{"ps": [...], "workers": [...]}; with --role, --index')
    parser.add_argument("--role", choices=list(cluster.ROLES), help="the one process to run from --cluster")
    parser.add_argument("--index", type=int, help="its position in the spec")
    parser.add_argument("--bind", metavar="HOST", help="host servers bind (default: the spec's; 127.0.0.1 locally)")
    parser.add_argument("--grace", type=float, default=DEFAULT_GRACE_SECONDS, help="seconds from SIGTERM to SIGKILL")
    parser.add_argument("--timeout", type=float, help="stop everything after this many seconds")
    parser.add_argument(
        "--deadline", type=float, default=cluster.DEFAULT_DEADLINE_SECONDS,
        help="seconds a worker waits for a silent peer before failing with its name (default 10)",
    )  # fmt: skip
    parser.add_argument("--checkpoint-dir", metavar="DIR", help="worker 0 saves checkpoints here; a rerun resumes")
    parser.add_argument("--checkpoint-every", type=int, default=100, metavar="K", help="steps between checkpoints")
    parser.add_argument(
        "--restart-window", type=float, default=DEFAULT_RESTART_WINDOW_SECONDS, metavar="SECONDS",
        help="a parameter server with no live run (none yet, or its workers went silent) waits this long "
        "for a (restarted) job, then exits with status 1 (default 60)",
    )  # fmt: skip
    parser.add_argument("--tls-cert", metavar="PEM", help="this process's certificate, signed by --tls-ca")
    parser.add_argument("--tls-key", metavar="PEM", help="the private key of --tls-cert")
    parser.add_argument("--tls-ca", metavar="PEM", help="the job's CA: peers must show a certificate it signed")
    parser.add_argument("--serve-ps", action="store_true", help=argparse.SUPPRESS)  # set by the launcher itself
    parser.add_argument("script", nargs="?", help="the training script every worker runs")
    parser.add_argument("script_args", nargs=argparse.REMAINDER)
    return parser, parser.parse_args(argv)


def main(argv=None):
    parser, args = parse_args(argv)
    if args.deadline <= 0 or args.checkpoint_every < 1 or args.restart_window <= 0:
        parser.error("--deadline and --restart-window must be positive and --checkpoint-every at least 1")
    options = {
        "deadline": args.deadline,
        "checkpoint_dir": os.path.abspath(args.checkpoint_dir) if args.checkpoint_dir else None,
        "checkpoint_every": args.checkpoint_every,
        "restart_window": args.restart_window,
    }
    try:
        # Every worker and shard needs gRPC: one line now, instead of a traceback from each of them.
        require_extra("dist", parser.prog)
        if args.serve_ps:  # a shard started by run_local: its place is in the environment
            place = cluster.current()
            return serve_ps(place.cluster_conf, place.index, args.bind, place.deadline, args.restart_window, place.tls)
        from .tls import load_peer_tls  # imports gRPC: after require_extra has said whether it is there

        # Checked here, once: a bad file names its flag before any process starts.
        options["tls"] = load_peer_tls(args.tls_cert, args.tls_key, args.tls_ca)
        if args.cluster:
            if args.mode:
                parser.error("give either --mode (one machine) or --cluster with --role and --index, not both")
            if args.role is None or args.index is None:
                parser.error("--cluster needs --role worker|ps and --index i")
            spec = cluster.load_spec(args.cluster)
            cluster.check_role(spec, args.role, args.index, args.cluster)
            if args.role == cluster.WORKER and not args.script:
                parser.error("a worker needs the training script to run")
            return run_one(
                spec, args.role, args.index, args.script, args.script_args, args.grace, args.timeout, args.bind, options
            )
        if not args.mode:
            parser.error("give --mode allreduce|ps (one machine) or --cluster SPEC.json --role ... --index ...")
        if not args.script:
            parser.error("give the training script every worker runs")
        spec = local_spec(args.mode, args.ps, args.workers)
        print(f"[launch] {args.mode} cluster {json.dumps(spec)}", flush=True)
        return run_local(spec, args.script, args.script_args, args.grace, args.timeout, args.bind, options)
    except (cluster.ClusterError, MissingExtraError, TLSConfigError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
