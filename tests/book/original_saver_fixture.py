"""Write a graph of ours as the original MatrixSlow's ``Saver.save`` writes one (a test helper).

Follows the original's writer field by field, so that tests can make the files a
reader of the book has on disk without running the original:

- ``model_file_name``: JSON indented by 4, ``{"meta", "service", "graph"}`` and no
  ``format_version``. ``meta`` is the caller's plus ``save_time`` (``str`` of a local
  ``datetime.now()``) and ``weights_file_name``; ``service`` is the signature as given.
- ``graph``: one entry per node with ``need_save``, in the graph's order, keys in the
  original's order: ``node_type``, ``name``, ``parents``, ``children`` (every child,
  the unsaved metrics too), ``kargs``, and ``dim`` for every node whose value is a
  matrix at save time (computed nodes too).
- ``weights_file_name``: ``np.savez`` of every saved Variable's value keyed by node
  name, inputs and labels included; a Variable holding None is pickled, as NumPy
  does for the original.
"""

import datetime
import json
from pathlib import Path

import numpy as np

from matrixslow.core import Variable

# Our ReLU records its slope; the original's has none in its kargs (its slope is
# the class constant 0.1), so the original's file has ``{}`` for the book's ReLU.
_ORIGINAL_RELU_SLOPE = 0.1


def save_as_original(
    graph, root_dir, meta=None, service_signature=None, model_file_name="model.json", weights_file_name="weights.npz"
):
    """Write ``graph`` into ``root_dir`` in the original's format; returns the two paths."""
    root_dir = Path(root_dir)
    root_dir.mkdir(parents=True, exist_ok=True)
    meta = dict(meta or {})
    meta["save_time"] = str(datetime.datetime.now())
    meta["weights_file_name"] = weights_file_name
    model = {"meta": meta, "service": {} if service_signature is None else service_signature}
    entries, weights = [], {}
    for node in graph.nodes:
        if not node.need_save:
            continue
        entries.append(_entry(node))
        if isinstance(node, Variable):
            weights[node.name] = _one_matrix(node)
    model["graph"] = entries
    model_path, weights_path = root_dir / model_file_name, root_dir / weights_file_name
    with open(model_path, "w") as model_file:
        json.dump(model, model_file, indent=4)
    with open(weights_path, "wb") as weights_file:
        np.savez(weights_file, **weights)
    return model_path, weights_path


def _entry(node):
    entry = {
        "node_type": type(node).__name__,
        "name": node.name,
        "parents": [parent.name for parent in node.parents],
        "children": [child.name for child in node.children],
        "kargs": _original_kargs(node),
    }
    if isinstance(node.value, np.ndarray) and node.value.ndim == 2:
        entry["dim"] = list(node.value.shape)
    return entry


def _one_matrix(node):
    """A Variable's value as the original held it: one matrix, or None."""
    if node.value is not None and np.ndim(node.value) != 2:
        raise ValueError(
            f"{node.name} holds a batch of shape {np.shape(node.value)}; the original's Variables hold one sample, "
            f"so set one before saving as it would have"
        )
    return None if node.value is None else np.asarray(node.value)


def _original_kargs(node):
    """The keyword arguments the original would have stored for ``node``, JSON-ready."""
    kargs = {key: list(value) if isinstance(value, tuple) else value for key, value in node.kargs.items()}
    slope = kargs.pop("nslope", _ORIGINAL_RELU_SLOPE) if type(node).__name__ == "ReLU" else _ORIGINAL_RELU_SLOPE
    if slope != _ORIGINAL_RELU_SLOPE:
        raise ValueError(f"{node.name}: the original's ReLU slopes {_ORIGINAL_RELU_SLOPE} only")
    return kargs
