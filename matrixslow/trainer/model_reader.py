"""Read a model file and its weights file, and check that they are whole, well formed and belong together.

The checks name the file and the field at fault, and all of them run before
anything is rebuilt, so that a bad file is reported rather than half loaded.
A model file of the original MatrixSlow (it has no ``format_version``) is
translated by ``original_format`` first, and then checked like one of ours.

A save killed after replacing the weights file but before the model file leaves
the weights that belong with the model file under a second name (see
``atomic_files.kept_path``); they are read instead.
"""

import hashlib
import io
import json

import numpy as np

from ..core import FORMAT_VERSION
from . import original_format
from .atomic_files import kept_path
from .errors import ModelFileError
from .node_entry import check_node_entry

_DTYPES = ("float32", "float64")


def read_model_files(model_path, weights_path):
    """The checked contents of a model file and of its weights file.

    Returns
    -------
    model : dict
        The parsed model file, with "service" defaulting to an empty dict.
    weights : dict
        Node name -> array, one for every Variable the model file lists as saved, with its dim.
    """
    model, model_bytes = _read_json(model_path)
    kept = kept_path(weights_path, model_bytes)
    if original_format.is_original(model):
        # It records no sha256 to tell a torn pair by, but a kept file named after this
        # very model file exists only while a save from it is unfinished, and holds its weights.
        weights_path = kept if kept.exists() else weights_path
        model, weights = _read_original(model, model_path, weights_path)
        _check_model(model, model_path)
    else:
        _check_model(model, model_path)
        weights, weights_path = _read_weights(weights_path, kept, model_path, model["weights_sha256"])
    _check_weights(model["graph"], weights, weights_path, model_path)
    return model, weights


def _read_original(original, model_path, weights_path):
    """A model file of the original MatrixSlow and its weights, translated into ours."""
    data = _weights_bytes(weights_path, model_path)
    # The original pickles a Variable that held None; such members are not
    # unpickled (loading never runs pickled code) but kept as None.
    pickled = original_format.pickled_members(data)
    weights = parse_npz(data, weights_path, skip=pickled)
    weights.update(dict.fromkeys(pickled))
    sha256 = hashlib.sha256(data).hexdigest()
    return original_format.translate(original, weights, sha256, model_path, weights_path)


def _read_json(path):
    """The parsed model file and its bytes."""
    try:
        data = path.read_bytes()
        text = data.decode("utf-8")
    except FileNotFoundError as error:
        raise ModelFileError(f"{path}: no such model file") from error
    except (OSError, UnicodeDecodeError) as error:
        raise ModelFileError(f"{path}: cannot read the model file ({error})") from error
    try:
        model = json.loads(text)
    except json.JSONDecodeError as error:
        raise ModelFileError(f"{path}: not valid JSON; the file is truncated or corrupt ({error})") from error
    if not isinstance(model, dict):
        raise ModelFileError(f"{path}: expected a JSON object describing a model, got a {type(model).__name__}")
    return model, data


def _check_model(model, path):
    """Check the structure of a parsed model file, naming the file and the field at fault."""

    def fail(problem):
        raise ModelFileError(f"{path}: {problem}")

    if not isinstance(model, dict):
        fail(f"expected a JSON object describing a model, got a {type(model).__name__}")
    version = model.get("format_version")
    if isinstance(version, bool) or version != FORMAT_VERSION:
        fail(f"format_version {version!r} is not supported; this matrixslow reads format_version {FORMAT_VERSION}")
    if model.get("dtype") not in _DTYPES:
        fail(f"dtype {model.get('dtype')!r} is not one of {_DTYPES}")
    for field, kind in (("meta", dict), ("weights_sha256", str), ("graph", list)):
        if not isinstance(model.get(field), kind):
            fail(f"field '{field}' is missing or not a {kind.__name__}")
    model.setdefault("service", {})
    names = set()
    for index, entry in enumerate(model["graph"]):
        where = check_node_entry(entry, index, fail)
        if entry["name"] in names:
            fail(f"{where} appears twice")
        names.add(entry["name"])
        if "dim" in entry:
            _check_variable_entry(entry, where, fail)


def _check_variable_entry(entry, where, fail):
    dim = entry["dim"]
    if not (isinstance(dim, list) and len(dim) == 2 and all(type(d) is int and d > 0 for d in dim)):
        fail(f"{where}: dim must be two positive ints, got {dim!r}")
    for flag in ("trainable", "has_saved_value"):
        if not isinstance(entry.get(flag), bool):
            fail(f"{where}: {flag} must be true or false")
    if entry["parents"]:
        fail(f"{where}: a Variable has no parents, got {entry['parents']}")


def _read_weights(path, kept, model_path, expected_sha256):
    """The arrays of the weights file ``model_path`` was saved with, and its path: ``path``, else ``kept``."""
    data = _weights_bytes(path, model_path)
    actual_sha256 = hashlib.sha256(data).hexdigest()
    if actual_sha256 != expected_sha256 and kept.exists():
        path, data = kept, _weights_bytes(kept, model_path)
        actual_sha256 = hashlib.sha256(data).hexdigest()
    weights = parse_npz(data, path)
    # Checked after parsing, so that a truncated file is reported as such, and a
    # readable file that is not the one the model was saved with as a mismatch.
    if actual_sha256 != expected_sha256:
        raise ModelFileError(
            f"{path} does not belong to {model_path}: its sha256 is {actual_sha256[:16]}..., the model file "
            f"records {expected_sha256[:16]}...; the two files come from different saves (or a save was interrupted)"
        )
    return weights, path


def _weights_bytes(path, model_path):
    try:
        data = path.read_bytes()
    except FileNotFoundError as error:
        raise ModelFileError(f"{path}: no such weights file (the model file {model_path} needs it)") from error
    except OSError as error:
        raise ModelFileError(f"{path}: cannot read the weights file ({error})") from error
    return data


def parse_npz(data, path, skip=()):
    """The arrays of the .npz archive ``data``, but for the members named in ``skip``."""
    try:
        archive = np.load(io.BytesIO(data), allow_pickle=False)
    except Exception as error:  # whatever these bytes make the parser raise, the file is unreadable
        raise ModelFileError(
            f"{path}: not a readable .npz weights file; it is truncated or corrupt ({error})"
        ) from error
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise ModelFileError(f"{path}: holds a single .npy array, not an .npz archive of named weights")
    weights = {}
    with archive:
        for name in archive.files:
            if name in skip:
                continue
            try:
                weights[name] = archive[name]
            except Exception as error:  # pickled objects (refused), a bad CRC, a cut-off member
                raise ModelFileError(f"{path}: array '{name}' cannot be read ({error})") from error
    return weights


def _check_weights(entries, weights, weights_path, model_path):
    saved = {entry["name"]: entry for entry in entries if entry.get("has_saved_value")}
    for name in weights:
        if name not in saved:
            raise ModelFileError(f"{weights_path}: holds '{name}', which {model_path} lists as no saved Variable")
    for name, entry in saved.items():
        if name not in weights:
            raise ModelFileError(f"{weights_path}: no weight for Variable '{name}' (listed in {model_path})")
        value, dim = weights[name], tuple(entry["dim"])
        if not np.issubdtype(value.dtype, np.floating):
            raise ModelFileError(
                f"{weights_path}: weight of Variable '{name}' has dtype {value.dtype}, expected floats"
            )
        if value.shape != dim:
            raise ModelFileError(
                f"{weights_path}: weight of Variable '{name}' has shape {value.shape}, expected dim {dim}"
            )
