"""Where this process stands in a cluster: read once, from the environment the launcher sets.

``python -m matrixslow.dist.launch`` starts every process with three variables:
``MATRIXSLOW_CLUSTER`` (the spec as JSON, ``{"ps": [...], "workers": [...]}``),
``MATRIXSLOW_ROLE`` (``worker`` or ``ps``) and ``MATRIXSLOW_INDEX``, and the job's options
``MATRIXSLOW_DEADLINE`` (seconds a peer may stay silent) and, when checkpointing,
``MATRIXSLOW_CHECKPOINT_DIR`` and ``MATRIXSLOW_CHECKPOINT_EVERY``, and, with TLS, the paths
``MATRIXSLOW_TLS_CERT``, ``MATRIXSLOW_TLS_KEY`` and ``MATRIXSLOW_TLS_CA``. A training script calls
``current()`` and hands ``trainer_options()`` to its distributed trainer.
"""

import json
import os
from dataclasses import dataclass

from ..tls_files import TLSConfigError

CLUSTER_ENV = "MATRIXSLOW_CLUSTER"
ROLE_ENV = "MATRIXSLOW_ROLE"
INDEX_ENV = "MATRIXSLOW_INDEX"
DEADLINE_ENV = "MATRIXSLOW_DEADLINE"
CHECKPOINT_DIR_ENV = "MATRIXSLOW_CHECKPOINT_DIR"
CHECKPOINT_EVERY_ENV = "MATRIXSLOW_CHECKPOINT_EVERY"
TLS_ENVS = ("MATRIXSLOW_TLS_CERT", "MATRIXSLOW_TLS_KEY", "MATRIXSLOW_TLS_CA")
DEFAULT_DEADLINE_SECONDS = 10.0

WORKER, PS = "worker", "ps"
ROLES = (WORKER, PS)
ALLREDUCE_MODE, PS_MODE = "allreduce", "ps"


class ClusterError(ValueError):
    """A cluster spec or launch environment that cannot be used; the message names the source and field."""


@dataclass(frozen=True)
class ClusterRole:
    """This process's place in the cluster.

    Attributes
    ----------
    role : str
        ``"worker"`` or ``"ps"``.
    index : int
        Position in ``cluster_conf[role]``.
    mode : str
        ``"ps"`` when the spec lists parameter servers, else ``"allreduce"``.
    cluster_conf : dict
        ``{"ps": [...], "workers": [...]}`` of ``host:port`` strings, ready for the trainers.
    deadline : float
        Seconds any peer may stay silent before this process gives up on it.
    checkpoint_dir : str or None
        Where worker 0 saves checkpoints (and a restarted job resumes from).
    checkpoint_every : int or None
        Steps between checkpoints.
    tls : matrixslow.dist.tls.PeerTLS or None
        This process's certificate, key and the job's CA, checked; None: plaintext.
    """

    role: str
    index: int
    mode: str
    cluster_conf: dict
    deadline: float = DEFAULT_DEADLINE_SECONDS
    checkpoint_dir: str | None = None
    checkpoint_every: int | None = None
    tls: object = None

    def trainer_options(self):
        """The keyword arguments both distributed trainers take from the launch: one call in a script."""
        return {
            "cluster_conf": self.cluster_conf,
            "worker_index": self.index,
            "timeout": self.deadline,
            "checkpoint_dir": self.checkpoint_dir,
            "checkpoint_every": self.checkpoint_every,
            "tls": self.tls,
        }

    @property
    def num_workers(self):
        return len(self.cluster_conf["workers"])

    @property
    def address(self):
        """This process's own ``host:port``."""
        return self.cluster_conf["workers" if self.role == WORKER else "ps"][self.index]


def mode_of(spec):
    """``"ps"`` when ``spec`` lists parameter servers, else ``"allreduce"``."""
    return PS_MODE if spec.get("ps") else ALLREDUCE_MODE


def validate_spec(spec, source):
    """Check a spec dict and return it normalised to ``{"ps": [...], "workers": [...]}``.

    ``source`` names where the spec came from (a file path) in every error.
    """
    if not isinstance(spec, dict):
        raise ClusterError(f"{source}: the cluster spec must be a JSON object, got {type(spec).__name__}")
    if "workers" not in spec:
        expected = '{"ps": [...], "workers": ["host:port", ...]}'
        raise ClusterError(f'{source}: field "workers" is missing; expected {expected}')
    normalised = {}
    for field in ("ps", "workers"):
        addresses = spec.get(field, [])
        if not isinstance(addresses, list):
            raise ClusterError(f'{source}: field "{field}" must be a list of "host:port" strings, got {addresses!r}')
        for position, address in enumerate(addresses):
            host, _, port = address.rpartition(":") if isinstance(address, str) else ("", "", "")
            if not host or not port.isdigit():
                raise ClusterError(f'{source}: field "{field}"[{position}] must be "host:port", got {address!r}')
        normalised[field] = list(addresses)
    if not normalised["workers"]:
        raise ClusterError(f'{source}: field "workers" is empty; list at least one "host:port"')
    return normalised


def load_spec(path):
    """Read and validate a cluster spec file; errors name the file and the field."""
    try:
        with open(path, encoding="utf-8") as file:
            text = file.read()
    except OSError as error:
        raise ClusterError(f"{path}: cannot read the cluster spec ({error.strerror})") from error
    try:
        spec = json.loads(text)
    except json.JSONDecodeError as error:
        where = f"line {error.lineno} column {error.colno}"
        raise ClusterError(f"{path}: not valid JSON ({error.msg} at {where})") from error
    return validate_spec(spec, path)


def check_role(spec, role, index, source):
    """Raise ``ClusterError`` unless ``spec[role][index]`` exists."""
    if role not in ROLES:
        raise ClusterError(f"{source}: role {role!r} is not one of {list(ROLES)}")
    field = "workers" if role == WORKER else "ps"
    if not 0 <= index < len(spec[field]):
        raise ClusterError(f'{source}: {role} index {index} is outside field "{field}" ({len(spec[field])} entries)')


def environment(
    spec, role, index, deadline=DEFAULT_DEADLINE_SECONDS, checkpoint_dir=None, checkpoint_every=None, tls=None
):
    """The variables that tell a process its place: ``{name: value}`` to add to its environment.

    ``tls`` (a ``matrixslow.dist.tls.PeerTLS``) travels as its three absolute paths.
    """
    env = {CLUSTER_ENV: json.dumps(spec), ROLE_ENV: role, INDEX_ENV: str(index), DEADLINE_ENV: repr(float(deadline))}
    if checkpoint_dir is not None:
        env[CHECKPOINT_DIR_ENV] = os.fspath(checkpoint_dir)
        env[CHECKPOINT_EVERY_ENV] = str(int(checkpoint_every or 100))
    if tls is not None:
        env.update(zip(TLS_ENVS, (tls.cert_path, tls.key_path, tls.ca_path), strict=True))
    return env


def _tls(environ):
    """The PeerTLS of the TLS variables, None when none is set; ClusterError naming the variable and file."""
    paths = [environ.get(name) for name in TLS_ENVS]
    if all(path is None for path in paths):
        return None
    from .tls import load_peer_tls  # imports gRPC, which only a TLS job needs before its trainer starts

    try:
        return load_peer_tls(*paths, options=TLS_ENVS)
    except TLSConfigError as error:
        raise ClusterError(str(error)) from None


def _number(environ, name, kind, default):
    raw = environ.get(name)
    if raw is None:
        return default
    try:
        value = kind(raw)
    except ValueError:
        raise ClusterError(f"{name}: expected a positive {kind.__name__}, got {raw!r}") from None
    if value <= 0:
        raise ClusterError(f"{name}: expected a positive {kind.__name__}, got {raw!r}")
    return value


def current(environ=None):
    """This process's ``ClusterRole``, read from the variables the launcher set.

    Raises
    ------
    ClusterError
        When the process was not started by ``python -m matrixslow.dist.launch`` or the variables are malformed.
    """
    environ = os.environ if environ is None else environ
    missing = [name for name in (CLUSTER_ENV, ROLE_ENV, INDEX_ENV) if name not in environ]
    if missing:
        raise ClusterError(
            f"not launched as part of a cluster: {', '.join(missing)} not set; start this script with "
            "`python -m matrixslow.dist.launch --mode allreduce --workers N script.py` (or --mode ps --ps M)"
        )
    try:
        spec = json.loads(environ[CLUSTER_ENV])
    except json.JSONDecodeError as error:
        raise ClusterError(f"{CLUSTER_ENV}: not valid JSON ({error.msg})") from error
    spec = validate_spec(spec, CLUSTER_ENV)
    role, raw_index = environ[ROLE_ENV], environ[INDEX_ENV]
    if not raw_index.isdigit():
        raise ClusterError(f"{INDEX_ENV}: expected a non-negative integer, got {raw_index!r}")
    check_role(spec, role, int(raw_index), f"{ROLE_ENV}/{INDEX_ENV}")
    return ClusterRole(
        role=role,
        index=int(raw_index),
        mode=mode_of(spec),
        cluster_conf=spec,
        deadline=_number(environ, DEADLINE_ENV, float, DEFAULT_DEADLINE_SECONDS),
        checkpoint_dir=environ.get(CHECKPOINT_DIR_ENV),
        checkpoint_every=_number(environ, CHECKPOINT_EVERY_ENV, int, None),
        tls=_tls(environ),
    )
