"""Turn a graph into the bytes of its two model files: the structure (JSON) and the weights (.npz).

``model.json`` holds ``format_version``, the graph's ``dtype``, the user's ``meta``
and ``service`` signature, the ``weights_sha256`` of the weights file, and under
``graph`` one entry per node: ``node_type``, ``name``, ``parents`` and ``kargs``,
plus ``dim``, ``trainable`` and ``has_saved_value`` for a Variable.
``weights.npz`` holds one array per saved Variable, keyed by node name.
"""

import datetime
import hashlib
import io
import json
import zipfile

import numpy as np

from ..core import FORMAT_VERSION, Variable
from .errors import ModelFileError


def encode_model(graph, meta, service_signature, model_path):
    """The bytes of the model file and of the weights file for ``graph``.

    Nodes with ``need_save=False`` are left out, which is refused for the parent
    of a node that is saved (the file could not rebuild that node). Every Variable
    whose value is one matrix is saved (trainable weights and constants); inputs
    holding a batch, or nothing, are not. ``model_path`` only names the file in
    error messages.

    Returns
    -------
    model_bytes : bytes
    weights_bytes : bytes
    """
    nodes = [node for node in graph.nodes if node.need_save]
    _check_parents_saved(nodes, model_path)
    weights = {node.name: node.value for node in nodes if _holds_one_matrix(node)}
    weights_bytes = npz_bytes(weights)
    meta = {
        **_checked_dict(meta, "meta", model_path),
        "save_time": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "matrixslow_version": _matrixslow_version(),
    }
    model = {
        "format_version": FORMAT_VERSION,
        "dtype": np.dtype(graph.dtype).name,
        "meta": _json_safe(meta, "meta", model_path),
        "service": _json_safe(_checked_dict(service_signature, "service_signature", model_path), "service", model_path),
        "weights_sha256": hashlib.sha256(weights_bytes).hexdigest(),
        "graph": [_describe(node, node.name in weights, model_path) for node in nodes],
    }
    model_bytes = json.dumps(model, indent=2, ensure_ascii=False).encode("utf-8")
    return model_bytes, weights_bytes


def _check_parents_saved(nodes, model_path):
    """Refuse a saved node with a parent left out: the file would name a parent it cannot rebuild.

    Checked here rather than at load time, where the mistake would only show
    long after the graph that made it is gone.
    """
    for node in nodes:
        for parent in node.parents:
            if not parent.need_save:
                raise ModelFileError(
                    f"cannot write {model_path}: node '{node.name}' is saved but its parent '{parent.name}' has "
                    f"need_save=False, so the file could not rebuild '{node.name}'; save '{parent.name}' too, "
                    f"or leave '{node.name}' out with need_save=False"
                )


def _matrixslow_version():
    # Imported here: the package imports this module while it is still initialising.
    from .. import __version__

    return __version__


def _holds_one_matrix(node):
    return isinstance(node, Variable) and isinstance(node.value, np.ndarray) and node.value.ndim == 2


def _describe(node, has_saved_value, model_path):
    entry = {
        "node_type": type(node).__name__,
        "name": node.name,
        "parents": [parent.name for parent in node.parents],
        "kargs": _json_safe(node.kargs, f"node '{node.name}' kargs", model_path),
    }
    if isinstance(node, Variable):
        entry.update(dim=list(node.dim), trainable=bool(node.trainable), has_saved_value=has_saved_value)
    return entry


def _checked_dict(value, field, model_path):
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ModelFileError(f"cannot write {model_path}: {field} must be a dict, got a {type(value).__name__}")
    return value


def _json_safe(value, where, model_path):
    """``value`` with tuples as lists and NumPy scalars as Python numbers; anything else JSON cannot hold fails."""
    if value is None or isinstance(value, (bool, str, int, float)):
        return value
    if isinstance(value, np.generic) and value.dtype.kind in "biuf":
        return value.item()
    if isinstance(value, (list, tuple)):
        return [_json_safe(item, f"{where}[{index}]", model_path) for index, item in enumerate(value)]
    if isinstance(value, dict) and all(isinstance(key, str) for key in value):
        return {key: _json_safe(item, f"{where}[{key!r}]", model_path) for key, item in value.items()}
    raise ModelFileError(
        f"cannot write {model_path}: {where} is a {type(value).__name__} ({value!r:.60}), which JSON cannot hold"
    )


def npz_bytes(weights):
    """The .npz archive of ``weights``, written the way ``np.savez`` writes it: one .npy member per array.

    Not ``np.savez(file, **weights)`` itself, which would take a node named
    "file" for its own argument. A fixed timestamp makes equal weights give equal bytes.
    """
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, value in weights.items():
            member = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            with archive.open(member, "w", force_zip64=True) as handle:
                np.lib.format.write_array(handle, np.ascontiguousarray(value), allow_pickle=False)
    return buffer.getvalue()
