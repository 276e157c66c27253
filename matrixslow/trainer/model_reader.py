"""Read a model file and its weights file, and check that they are whole, well formed and belong together.

The checks name the file and the field at fault, and all of them run before
anything is rebuilt, so that a bad file is reported rather than half loaded.
A model file of the original MatrixSlow (it has no ``format_version``) is
translated by ``original_format`` first, and then checked like one of ours.

A save killed after replacing the weights file but before the model file leaves
the weights that belong with the model file under a second name (see
``atomic_files.kept_path``); they are read instead.

Sizes are bounded (``model_limits``): the model file's length and nesting, every
Variable's dim, and each weight's .npy header, which is compared with the model
file before its data is decompressed (``npz_headers``). Whatever else goes wrong
while reading is a ModelFileError too, naming the file.
"""

import contextlib
import hashlib
import json
import math

import numpy as np

from ..core import FORMAT_VERSION
from . import original_format
from .atomic_files import kept_path
from .errors import ModelFileError
from .model_limits import MAX_JSON_DEPTH, MAX_MODEL_FILE_BYTES, MAX_WEIGHTS_ELEMENTS, dim_problem, json_depth_exceeds
from .node_entry import check_node_entry
from .npz_headers import NpzMembers

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
    with blamed_on(model_path, "the model file"):
        model, model_bytes = _read_json(model_path)
        kept = kept_path(weights_path, model_bytes)
    if original_format.is_original(model):
        # It records no sha256 to tell a torn pair by, but a kept file named after this
        # very model file exists only while a save from it is unfinished, and holds its weights.
        weights_path = kept if kept.exists() else weights_path
        model, weights = _read_original(model, model_path, weights_path)
        with blamed_on(model_path, "the model file"):
            _check_model(model, model_path)
        with blamed_on(weights_path, "the weights file"):
            _check_weights(model["graph"], weights, weights_path, model_path)
    else:
        with blamed_on(model_path, "the model file"):
            _check_model(model, model_path)
        weights, weights_path = _read_weights(weights_path, kept, model, model_path)
    return model, weights


@contextlib.contextmanager
def blamed_on(path, what):
    """Turn any unexpected exception of the block into a ModelFileError naming ``path``.

    The block reads only that file, so whatever it raises (an AttributeError of a
    field of the wrong type, a RecursionError) is the file's fault and is reported
    as a bad file, counted and shown like the checked ones. MemoryError is let
    through: every size is bounded before it is allocated, so it tells of a machine
    short of memory, not of the file; KeyboardInterrupt and SystemExit are no
    Exception and pass too.
    """
    try:
        yield
    except (ModelFileError, MemoryError):
        raise
    except Exception as error:
        raise ModelFileError(f"{path}: {what} cannot be read ({type(error).__name__}: {error})") from error


def _read_original(original, model_path, weights_path):
    """A model file of the original MatrixSlow and its weights, translated into ours."""
    data = _weights_bytes(weights_path, model_path)
    with blamed_on(weights_path, "the weights file"), NpzMembers(data, weights_path) as members:
        _check_original_headers(original, members.headers, weights_path, model_path)
        # The original pickles a Variable that held None; such members are not
        # unpickled (loading never runs pickled code) but kept as None.
        weights = {name: None if header.pickled else members.read(name) for name, header in members.headers.items()}
    sha256 = hashlib.sha256(data).hexdigest()
    with blamed_on(model_path, "the model file"):
        return original_format.translate(original, weights, sha256, model_path, weights_path)


def _check_original_headers(original, headers, weights_path, model_path):
    """Refuse, before any data is read, a member no node of the original's file names, or one larger than its dim.

    Only what the data would be read for is checked here; ``translate`` and
    ``_check_weights`` judge the rest once the file is translated.
    """
    graph = original.get("graph") if isinstance(original.get("graph"), list) else []
    entries = {entry.get("name"): entry for entry in graph if isinstance(entry, dict)}
    dims = {}
    for name, header in headers.items():
        if header.pickled:
            continue
        if name not in entries:
            raise ModelFileError(f"{weights_path}: holds '{name}', which {model_path} lists as no node")
        dim = entries[name].get("dim")
        dims[name] = tuple(dim) if _is_dim(dim) else None
    _check_values(headers, dims, weights_path, model_path)


def _is_dim(dim):
    return isinstance(dim, list) and len(dim) == 2 and all(type(d) is int and d > 0 for d in dim)


def _check_values(values, dims, weights_path, model_path):
    """Check ``values`` (name -> array or MemberHeader) against ``dims`` (name -> dim, or None if unknown)."""
    for name, dim in dims.items():
        value = values[name]
        _check_value_kind(name, value, weights_path)
        if dim is not None and value.shape != dim:
            raise ModelFileError(
                f"{weights_path}: weight of Variable '{name}' has shape {value.shape}, expected dim {dim}"
            )
        problem = dim_problem(value.shape)
        if problem is not None:
            raise ModelFileError(f"{weights_path}: weight of Variable '{name}' has shape {value.shape}, {problem}")
    total = sum(math.prod(values[name].shape) for name in dims)
    if total > MAX_WEIGHTS_ELEMENTS:
        raise ModelFileError(
            f"{weights_path}: holds {total} numbers in all, more than {MAX_WEIGHTS_ELEMENTS} "
            f"(model_limits.MAX_WEIGHTS_ELEMENTS); {model_path} is larger than this matrixslow loads"
        )


def _check_value_kind(name, value, weights_path):
    """A weight (an array or a MemberHeader) holds floats, and no pickled objects."""
    if value.dtype.hasobject:
        raise ModelFileError(
            f"{weights_path}: the weight of Variable '{name}' holds pickled Python objects, not numbers; "
            f"weights are never unpickled"
        )
    if not np.issubdtype(value.dtype, np.floating):
        raise ModelFileError(f"{weights_path}: weight of Variable '{name}' has dtype {value.dtype}, expected floats")


def _read_json(path):
    """The parsed model file and its bytes."""
    try:
        with open(path, "rb") as file:
            data = file.read(MAX_MODEL_FILE_BYTES + 1)
        text = data.decode("utf-8")
    except FileNotFoundError as error:
        raise ModelFileError(f"{path}: no such model file") from error
    except (OSError, UnicodeDecodeError) as error:
        raise ModelFileError(f"{path}: cannot read the model file ({error})") from error
    if len(data) > MAX_MODEL_FILE_BYTES:
        raise ModelFileError(
            f"{path}: the model file is larger than {MAX_MODEL_FILE_BYTES} bytes (model_limits.MAX_MODEL_FILE_BYTES)"
        )
    try:
        model = json.loads(text)
    except json.JSONDecodeError as error:
        raise ModelFileError(f"{path}: not valid JSON; the file is truncated or corrupt ({error})") from error
    except RecursionError as error:
        raise ModelFileError(f"{path}: JSON nested too deep for the parser; no model file nests so") from error
    except ValueError as error:  # a number that Python will not convert (an int of over 4300 digits)
        raise ModelFileError(f"{path}: not a readable JSON model file ({error})") from error
    if not isinstance(model, dict):
        raise ModelFileError(f"{path}: expected a JSON object describing a model, got a {type(model).__name__}")
    if json_depth_exceeds(model):
        raise ModelFileError(
            f"{path}: JSON nested more than {MAX_JSON_DEPTH} deep (model_limits.MAX_JSON_DEPTH); no model file nests so"
        )
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
    if not isinstance(model.setdefault("service", {}), dict):
        fail("field 'service' is not a JSON object")
    names = set()
    for index, entry in enumerate(model["graph"]):
        where = check_node_entry(entry, index, fail)
        if entry["name"] in names:
            fail(f"{where} appears twice")
        names.add(entry["name"])
        if "dim" in entry:
            _check_variable_entry(entry, where, fail)
        elif "has_saved_value" in entry:
            fail(f"{where}: has_saved_value without a dim; only a Variable entry has a saved value")


def _check_variable_entry(entry, where, fail):
    dim = entry["dim"]
    if not _is_dim(dim):
        fail(f"{where}: dim must be two positive ints, got {dim!r}")
    problem = dim_problem(dim)
    if problem is not None:
        fail(f"{where}: dim {dim} has {problem}")
    for flag in ("trainable", "has_saved_value"):
        if not isinstance(entry.get(flag), bool):
            fail(f"{where}: {flag} must be true or false")
    if entry["parents"]:
        fail(f"{where}: a Variable has no parents, got {entry['parents']}")


def _read_weights(path, kept, model, model_path):
    """The arrays of the weights file ``model_path`` was saved with, and its path: ``path``, else ``kept``."""
    expected_sha256 = model["weights_sha256"]
    data = _weights_bytes(path, model_path)
    actual_sha256 = hashlib.sha256(data).hexdigest()
    if actual_sha256 != expected_sha256 and kept.exists():
        path, data = kept, _weights_bytes(kept, model_path)
        actual_sha256 = hashlib.sha256(data).hexdigest()
    with blamed_on(path, "the weights file"), NpzMembers(data, path) as members:
        # Checked once the archive's headers are read, so that a truncated file is reported
        # as such, and a readable file that is not the one the model was saved with as a mismatch.
        if actual_sha256 != expected_sha256:
            raise ModelFileError(
                f"{path} does not belong to {model_path}: its sha256 is {actual_sha256[:16]}..., the model file "
                f"records {expected_sha256[:16]}...; the two files come from different saves (or a save was "
                f"interrupted, or the file changed since)"
            )
        # Every header against the model file before any data is decompressed: a bomb costs its headers.
        _check_weights(model["graph"], members.headers, path, model_path)
        weights = {name: members.read(name) for name in members.headers}
    return weights, path


def _weights_bytes(path, model_path):
    try:
        data = path.read_bytes()
    except FileNotFoundError as error:
        raise ModelFileError(f"{path}: no such weights file (the model file {model_path} needs it)") from error
    except OSError as error:
        raise ModelFileError(f"{path}: cannot read the weights file ({error})") from error
    return data


def parse_npz(data, path):
    """The arrays of the .npz archive ``data`` (a checkpoint's optimizer state, say), each within the size bounds."""
    with blamed_on(path, "the .npz file"), NpzMembers(data, path) as members:
        for name, header in members.headers.items():
            if header.pickled:
                raise ModelFileError(f"{path}: array '{name}' holds pickled Python objects; they are never unpickled")
            problem = dim_problem(header.shape)
            if problem is not None:
                raise ModelFileError(f"{path}: array '{name}' has shape {header.shape}, {problem}")
        return {name: members.read(name) for name in members.headers}


def _check_weights(entries, weights, weights_path, model_path):
    """Check ``weights`` (name -> array or MemberHeader: both have a shape and a dtype) against the saved Variables."""
    saved = {entry["name"]: entry for entry in entries if entry.get("has_saved_value")}
    for name in weights:
        if name not in saved:
            raise ModelFileError(f"{weights_path}: holds '{name}', which {model_path} lists as no saved Variable")
    _check_values(weights, {name: tuple(saved[name]["dim"]) for name in weights}, weights_path, model_path)
    for name in saved:
        if name not in weights:
            raise ModelFileError(f"{weights_path}: no weight for Variable '{name}' (listed in {model_path})")
