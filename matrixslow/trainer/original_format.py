"""Translate a model saved by the original MatrixSlow's Saver into this package's description of a model.

The original's model file has no ``format_version``. It holds ``meta`` (``save_time``,
``weights_file_name``), ``service`` and ``graph``: one entry per saved node with
``node_type``, ``name``, ``parents``, ``children`` and ``kargs``, plus ``dim`` for
every node whose value was a matrix when saved. Its weights file holds the value of
every saved Variable (inputs and labels too), keyed by node name.

What carries over:

- Node types: every one of the original's exists here under the same name. Its
  metrics (Accuracy, ...) are left out: they compute nothing a model predicts with,
  and this package's metrics are not part of a saved graph.
- Keyword arguments: only those the original's nodes read (``need_save``,
  MaxPooling's ``size`` and ``stride``, Reshape's ``shape``). The original ignored
  any other, so they are dropped rather than given an effect they never had
  (``ReLU(x, nslope=0.2)`` sloped 0.1 there). A registered node type of the user's
  own keeps its keyword arguments; one its ``__init__`` does not name is refused
  when the graph is rebuilt (``node_kargs``).
- Variables keep their ``dim``; ``has_saved_value`` is whether the weights file holds
  them, and ``trainable`` is inferred (the original does not record it), see
  ``fixed_variables``.
- Dropped: the dims of computed nodes (they follow from the Variables), ``children``
  (they may name unsaved metrics), and the weights' sha256 check (the original
  records none).
"""

from collections import defaultdict

import numpy as np

from ..core import FORMAT_VERSION, NODE_TYPES, Variable
from .errors import ModelFileError
from .node_entry import check_node_entry

_METRICS = frozenset({"Accuracy", "Precision", "Recall", "ROC", "ROC_AUC", "F1Score"})

# The keyword arguments each of the original's node types reads; any other it ignored.
_READ_KARGS = {
    **dict.fromkeys(
        (
            "Variable",
            "Add",
            "MatMul",
            "Logistic",
            "ReLU",
            "SoftMax",
            "Multiply",
            "Convolve",
            "Concat",
            "ScalarMultiply",
            "Step",
            "Welding",
            "LogLoss",
            "CrossEntropyWithSoftMax",
            "PerceptionLoss",
        ),
        ("need_save",),
    ),
    "MaxPooling": ("need_save", "size", "stride"),
    "Reshape": ("need_save", "shape"),
}

# Losses whose parents after the first are labels (fed, not learned).
_LABELLED_LOSSES = frozenset({"CrossEntropyWithSoftMax"})


def is_original(model):
    """Whether a parsed model file was written by the original MatrixSlow (it has no ``format_version``)."""
    return isinstance(model, dict) and "format_version" not in model


def translate(original, weights, weights_sha256, model_path, weights_path):
    """This package's model description of an original model file, and its weights.

    Parameters
    ----------
    original : dict
        The parsed model file.
    weights : dict
        Node name -> array, or None for a member the original pickled (a Variable
        that held no value when saved).
    weights_sha256 : str
        Recorded in the description as the weights it was checked against.
    model_path, weights_path : path
        Only name the files in error messages.

    Returns
    -------
    model : dict
        As ``read_model_files`` returns one for a file of this package.
    weights : dict
        Node name -> array, one for every saved Variable.
    """

    def fail(problem):
        raise ModelFileError(f"{model_path}: {problem}")

    graph = original.get("graph")
    if not isinstance(graph, list):
        fail("field 'graph' is missing or not a list; a model file of the original MatrixSlow lists its nodes there")
    for field in ("meta", "service"):
        if not isinstance(original.get(field, {}), dict):
            fail(f"field '{field}' is not a JSON object")
    for index, entry in enumerate(graph):
        check_node_entry(entry, index, fail)
    metrics = {entry["name"] for entry in graph if entry["node_type"] in _METRICS}
    entries = [entry for entry in graph if entry["name"] not in metrics]
    for entry in entries:
        for parent in entry["parents"]:
            if parent in metrics:
                fail(f"node '{entry['name']}': parent '{parent}' is a metric, and metrics are not rebuilt")
    variables = {entry["name"] for entry in entries if _is_variable(entry, fail)}
    for entry in entries:
        if entry["name"] in variables:
            _check_variable(entry, weights, model_path, weights_path)
    fixed = fixed_variables(entries, variables, weights, original.get("service", {}))
    model = {
        "format_version": FORMAT_VERSION,
        "dtype": _dtype(weights),
        "meta": original.get("meta", {}),
        "service": original.get("service", {}),
        "weights_sha256": weights_sha256,
        "graph": [_translated(entry, entry["name"] in variables, fixed) for entry in entries],
    }
    return model, {name: value for name, value in weights.items() if value is not None}


def _is_variable(entry, fail):
    node_type = NODE_TYPES.get(entry["node_type"])
    if node_type is None:
        fail(
            f"node '{entry['name']}' has node type '{entry['node_type']}', which this matrixslow does not know; if "
            f"it is your own node class, register it before loading with ms.core.register_node_type"
        )
    return issubclass(node_type, Variable)


def _check_variable(entry, weights, model_path, weights_path):
    name = entry["name"]
    if "dim" not in entry:
        why = (
            "it held no value when the original saved it, so its shape is unknown"
            if name in weights and weights[name] is None
            else "the original writes one for every Variable that held a value"
        )
        raise ModelFileError(f"{model_path}: Variable '{name}' has no dim ({why})")
    if name not in weights:
        raise ModelFileError(
            f"{weights_path}: no weight for Variable '{name}' (listed in {model_path}); "
            f"the original saves every Variable's value"
        )
    if weights[name] is None:
        raise ModelFileError(f"{weights_path}: the weight of Variable '{name}' is a pickled Python object, not numbers")


def fixed_variables(entries, variables, weights, service):
    """Names of the Variables that are loaded as not trainable; every other Variable is trainable.

    The original records no ``trainable``, so it is inferred. A Variable is fixed when it is

    - an input named in the service signature (``{"inputs": {"name": ...}}``), or
    - a label: every saved node it feeds is a loss that takes it after the logits, or
    - fed to no saved node (a label used only by metrics, say), or
    - a constant of ones: every saved node it feeds is a ScalarMultiply that scales it,
      and its value is all ones (the book's convolution layer and chapter 3 build those).

    Anything else, inputs left out of the signature included, loads as trainable
    (the original's own loader makes every Variable trainable); set ``node.trainable``
    after loading where that is wrong.
    """
    consumers = defaultdict(list)
    for entry in entries:
        for index, parent in enumerate(entry["parents"]):
            consumers[parent].append((entry["node_type"], index))
    fixed = set(_signature_inputs(service))
    for name in variables:
        uses = consumers[name]
        is_label = all(node_type in _LABELLED_LOSSES and index >= 1 for node_type, index in uses)
        is_ones = all(node_type == "ScalarMultiply" and index == 1 for node_type, index in uses) and bool(
            np.all(weights[name] == 1)
        )
        if is_label or is_ones:  # an empty ``uses`` makes both true
            fixed.add(name)
    return fixed


def _signature_inputs(service):
    """The input names of a service signature: the original's ``{"name": ...}``, or a list of such or of names."""
    inputs = service.get("inputs")
    inputs = inputs if isinstance(inputs, list) else [inputs]
    names = [item.get("name") if isinstance(item, dict) else item for item in inputs]
    return [name for name in names if isinstance(name, str)]


def _dtype(weights):
    # The original computes in float64 (np.mat of the book's data); only weights
    # that are all float32 were computed in float32.
    arrays = [value for value in weights.values() if value is not None]
    return "float32" if arrays and all(value.dtype == np.float32 for value in arrays) else "float64"


def _translated(entry, is_variable, fixed):
    read = _READ_KARGS.get(entry["node_type"])
    kargs = entry["kargs"] if read is None else {key: value for key, value in entry["kargs"].items() if key in read}
    translated = {"node_type": entry["node_type"], "name": entry["name"], "parents": entry["parents"], "kargs": kargs}
    if is_variable:  # the dim of a computed node is dropped: it follows from the Variables
        translated.update(dim=entry["dim"], trainable=entry["name"] not in fixed, has_saved_value=True)
    return translated
