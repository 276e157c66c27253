"""Model versions on disk, the ones being served, and the watcher that swaps in new ones.

A model directory holds one sub-directory per version, as in TensorFlow Serving::

    DIR/1/model.json, DIR/1/weights.npz
    DIR/2/model.json, DIR/2/weights.npz

each written by ``ms.trainer.Saver(DIR / "2").save(graph, service_signature=...)``. The
server serves the highest version that loads, and keeps the ``keep_versions`` most recent
good ones loaded so that a request may pin one (at start a corrupt newest version is
reported and skipped; afterwards only a newer version than the served one is tried, see
``ModelStore.check_once``). A version counts once its ``model.json`` exists:
the Saver writes the weights first and ``model.json`` last (atomically), so a
directory without it is still being written and is left alone. A copy (``cp -r``,
``rsync``) keeps no such order, so a version that fails to load is tried again as
soon as any file in its directory changes (a name, a size or a modification time):
weights that arrive after their ``model.json``, or arrive truncated and are then
completed, only delay the version. (TensorFlow Serving retries on a timer instead,
5 times a minute apart; waiting for a change reads a broken version once, not every
poll, and still picks up a copy that finishes an hour late.)

Every version is loaded into its own ``Graph``, so a new version is built while the
old one keeps serving, and switching is one reference assignment (``self._current``),
which Python makes atomic: a batch runs entirely on the version it started with.
"""

import logging
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from matrixslow.core import Graph, Variable
from matrixslow.trainer.saver import ModelFileError, Saver

from .errors import ModelLoadError
from .exporter import read_signature

MODEL_FILE = "model.json"

log = logging.getLogger("serving.model_store")


@dataclass(eq=False)
class LoadedModel:
    """One loaded version: its own graph and the signature's nodes.

    Attributes
    ----------
    version : int
    path : Path
    graph : Graph
    inputs : dict
        Input name -> Variable, in signature order.
    outputs : dict
        Output name -> Node, in signature order.
    output_dims : dict
        Output name -> shape of one sample's value, found by a trial forward pass at load.
    meta : dict
        The meta data saved with the model.
    """

    version: int
    path: Path
    graph: Graph
    inputs: dict
    outputs: dict
    output_dims: dict = field(default_factory=dict)
    meta: dict = field(default_factory=dict)

    @property
    def dtype(self):
        return np.dtype(self.graph.dtype)

    def input_dims(self):
        return {name: node.dim for name, node in self.inputs.items()}

    def run(self, batch, output_names):
        """Forward ``batch`` ({input name: (B, rows, cols) array}) and return ``{output name: (B, ...) array}``.

        Not thread-safe by design: node values live in the graph, so only one thread
        (the batcher's worker) may call it; see ``serving.batcher``.
        """
        for name, node in self.inputs.items():
            node.set_value(batch[name])  # also forgets every value computed from the previous batch
        results = {}
        for name in output_names:
            node = self.outputs[name]
            node.forward()
            results[name] = node.value
        return results


def list_versions(model_dir):
    """The committed versions in ``model_dir`` (sub-directories named 1, 2, ... holding model.json), ascending."""
    model_dir = Path(model_dir)
    try:
        entries = list(os.scandir(model_dir))
    except OSError:
        return []
    versions = []
    for entry in entries:
        name = entry.name
        # isascii: "²" is a digit to isdigit but no number to int.
        if name.isascii() and name.isdigit() and int(name) > 0 and (Path(entry.path) / MODEL_FILE).is_file():
            versions.append(int(name))
    return sorted(versions)


def version_fingerprint(version_dir):
    """``(relative path, size, mtime_ns)`` of every file under ``version_dir``, sorted.

    A failed version is tried again once this changes: any file written, added,
    renamed or removed changes it, and a failed load is no reason to read the
    files again while it stays the same.
    """
    version_dir = Path(version_dir)
    files = []
    for root, _, names in os.walk(version_dir):
        for name in names:
            path = Path(root) / name
            try:
                info = path.stat()
            except OSError:  # removed while we looked (a Saver's temporary file): the next poll sees the result
                continue
            files.append((path.relative_to(version_dir).as_posix(), info.st_size, info.st_mtime_ns))
    return tuple(sorted(files))


def load_version(model_dir, version):
    """Load ``model_dir/version`` into a new graph and check it can answer.

    Raises
    ------
    ModelLoadError
        Naming the directory and the reason: unreadable or corrupt files, a missing or
        malformed signature, a signature name the graph lacks, an input that is not an
        input Variable, or a trial forward pass (one sample of zeros) that fails.
    """
    path = Path(model_dir) / str(version)
    graph = Graph()
    try:
        meta, signature = Saver(path).load(graph)
        input_names, output_names = read_signature(signature)
    except (ModelFileError, ValueError, OSError) as error:
        raise ModelLoadError(f"model version {path} cannot be loaded: {error}") from error
    return servable_model(graph, input_names, output_names, meta, version, path, where=f"model version {path}")


def servable_model(graph, input_names, output_names, meta, version, path, where):
    """``graph`` as a ``LoadedModel`` answering its signature, once a trial forward pass worked.

    Raises ``ModelLoadError`` starting with ``where`` when a signature input is not an
    input Variable, an output is not a node of the graph, or the trial run fails.
    """
    inputs, outputs = {}, {}
    for name in input_names:
        node = graph.get(name)
        if not isinstance(node, Variable) or node.trainable:
            raise ModelLoadError(f"{where}: signature input {name!r} is not an input Variable of the graph")
        inputs[name] = node
    for name in output_names:
        node = graph.get(name)
        if node is None:
            raise ModelLoadError(f"{where}: signature output {name!r} is not a node of the graph")
        outputs[name] = node
    model = LoadedModel(version=version, path=path, graph=graph, inputs=inputs, outputs=outputs, meta=meta)
    # A trial run catches what the files cannot show (an output that needs an input the
    # signature leaves out) before the version replaces a working one; it also tells the
    # output shapes the status call reports.
    trial = {name: np.zeros((1, *node.dim), dtype=model.dtype) for name, node in inputs.items()}
    try:
        values = model.run(trial, list(outputs))
    except Exception as error:  # any engine error means this version cannot serve
        raise ModelLoadError(f"{where}: a trial forward pass failed: {error}") from error
    model.output_dims = {name: tuple(value.shape[1:]) for name, value in values.items()}
    return model


class ModelStore:
    """The versions being served, and a watcher thread that loads newer ones.

    Parameters
    ----------
    model_dir : str or path-like
    poll_seconds : float
        How often the watcher lists the directory.
    on_swap : callable, optional
        Called with the new LoadedModel each time a newer version becomes the newest served (for metrics).
    on_failure : callable, optional
        Called with the version number after each failed load.
    keep_versions : int
        How many of the most recent good versions stay loaded, so that a request pinned to one is served.
    strict : bool
        Make any version that fails to load at start fatal, not only a directory where none loads.
    """

    def __init__(self, model_dir, poll_seconds=1.0, on_swap=None, on_failure=None, keep_versions=1, strict=False):
        if keep_versions < 1:
            raise ValueError(f"keep_versions must be at least 1, got {keep_versions}")
        self.model_dir = Path(model_dir)
        self.poll_seconds = poll_seconds
        self.keep_versions = keep_versions
        self.strict = strict
        self._on_swap = on_swap or (lambda model: None)
        self._on_failure = on_failure or (lambda version: None)
        self._current = None
        # Replaced whole, never changed in place: a reader sees one consistent set of versions.
        self._loaded = {}  # version -> LoadedModel, the newest ``keep_versions`` good ones
        # version -> (version_fingerprint of the attempt that failed, why it failed): retried once the
        # fingerprint changes, reported by failed_versions; replaced whole, like _loaded.
        self._failures = {}
        self.last_load_error = ""
        self._stop = threading.Event()
        self._thread = None

    @property
    def current(self):
        """The newest LoadedModel served (read once per batch; never None after ``load_initial``)."""
        return self._current

    def loaded(self, version):
        """The LoadedModel of ``version`` if it is one of the loaded versions, else None."""
        return self._loaded.get(version)

    def loaded_versions(self):
        """The versions a request may pin, ascending."""
        return sorted(self._loaded)

    def failed_versions(self):
        """{version: why it failed to load} for each version that failed, is not served, and is newer than
        the oldest one served (so that, loaded, it would be one of the ``keep_versions`` served)."""
        oldest = min(self._loaded, default=0)
        return {version: error for version, (_, error) in sorted(self._failures.items()) if version > oldest}

    def available_versions(self):
        return list_versions(self.model_dir)

    def load_initial(self):
        """Load the newest version that loads, and the next ``keep_versions - 1`` that load below it.

        Each version that fails is logged, reported by ``failed_versions`` and counted
        (``on_failure``); the newest failing one above the served version is retried by
        the watcher once a file in it changes.

        Raises
        ------
        ModelLoadError
            Naming the directory when it is missing or holds no version, naming every
            version and its reason when none loads, and naming the version when ``strict``
            and any version tried fails.
        """
        if not self.model_dir.is_dir():
            raise ModelLoadError(f"model directory {self.model_dir} does not exist or is not a directory")
        versions = self.available_versions()
        if not versions:
            raise ModelLoadError(
                f"model directory {self.model_dir} holds no model version: expected sub-directories "
                f"1, 2, ... each with {MODEL_FILE} and weights.npz written by ms.trainer.Saver"
            )
        loaded, errors = {}, []
        for version in reversed(versions):
            if len(loaded) == self.keep_versions:
                break
            try:
                loaded[version] = self._try_load(version)
            except ModelLoadError as error:
                if self.strict:
                    raise ModelLoadError(f"{error} (--strict-versions: any version that fails is fatal)") from error
                errors.append(str(error))
        if not loaded:
            raise ModelLoadError(f"no version in {self.model_dir} can be loaded: " + "; ".join(errors))
        self._loaded = loaded
        self._swap(loaded[max(loaded)])
        if self._failures:
            self.last_load_error = self._failures[max(self._failures)][1]
        return self._current

    def check_once(self):
        """Load and swap in the highest version if it is newer than the served one; True if it swapped.

        A version that fails is logged and kept in ``last_load_error`` ("...; will retry
        when a file in DIR/N changes"); the served version stays, and the failed one is
        tried again once its ``version_fingerprint`` changes. Only the highest version is
        ever tried: a failing DIR/3 is not skipped for DIR/2, because the highest number
        is the version that was published as the newest, and serving 2 while 3 is being
        copied would swap twice. A newer version that loads joins the loaded ones, and the
        oldest beyond ``keep_versions`` is dropped.
        """
        versions = self.available_versions()
        # A failure is worth reporting while its version is on disk.
        self._failures = {version: failure for version, failure in self._failures.items() if version in versions}
        if not self._failures:
            self.last_load_error = ""
        if not versions or versions[-1] <= self._current.version:
            return False
        newest = versions[-1]
        path = self.model_dir / str(newest)
        # Taken before loading, so a file that changes while it is read earns another try.
        fingerprint = version_fingerprint(path)
        if self._failures.get(newest, (None,))[0] == fingerprint:
            return False
        try:
            model = self._try_load(newest, fingerprint)
        except ModelLoadError:
            log.error("%s; still serving version %d", self.last_load_error, self._current.version)
            return False
        loaded = {**self._loaded, newest: model}
        kept = sorted(loaded, reverse=True)[: self.keep_versions]
        for version in sorted(set(loaded) - set(kept)):
            log.info("version %d is no longer loaded (--keep-versions %d)", version, self.keep_versions)
        self._loaded = {version: loaded[version] for version in kept}
        self._swap(model)
        return True

    def _try_load(self, version, fingerprint=None):
        """``load_version``; a failure is remembered (retried once ``fingerprint`` changes), reported and counted."""
        path = self.model_dir / str(version)
        if fingerprint is None:
            fingerprint = version_fingerprint(path)
        try:
            model = load_version(self.model_dir, version)
        except ModelLoadError as error:
            self.last_load_error = f"{error}; will retry when a file in {path} changes"
            self._failures = {**self._failures, version: (fingerprint, self.last_load_error)}
            if self._current is None:  # at start; the watcher logs its own failures with what still serves
                log.error("%s", self.last_load_error)
            self._on_failure(version)
            raise
        self._failures = {known: error for known, error in self._failures.items() if known != version}
        return model

    def _swap(self, model):
        if self._loaded.get(model.version) is not model:  # a subclass's own swap (BookModelStore): still pinnable
            self._loaded = {**self._loaded, model.version: model}
        previous = self._current
        self._current = model  # one assignment: readers see the old or the new version, never a mix
        self.last_load_error = ""
        log.info(
            "serving version %d from %s%s%s",
            model.version,
            model.path,
            "" if previous is None else f" (was version {previous.version})",
            "" if len(self._loaded) < 2 else f"; versions loaded: {', '.join(map(str, self.loaded_versions()))}",
        )
        self._on_swap(model)

    def start_watching(self):
        self._thread = threading.Thread(target=self._watch, name="serving-model-watcher", daemon=True)
        self._thread.start()

    def _watch(self):
        while not self._stop.wait(self.poll_seconds):
            try:
                self.check_once()
            except Exception:  # the watcher must survive anything the file system throws at it
                log.exception("checking %s for new versions failed", self.model_dir)

    def stop(self):
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
