"""The Exporter: the service signature (input and output node names) saved with a model.

As in the book, ``Exporter().signature("img_input", "softmax_output")`` returns the dict
the Saver stores as ``service_signature``; a server reads it to know which nodes take the
request's tensors and which give the answer::

    signature = serving.Exporter(graph).signature(model.inputs[0].name, model.predict.name)
    ms.trainer.Saver("models/digits/1").save(graph, service_signature=signature)

One name gives the book's form ``{"inputs": {"name": ...}, "outputs": {"name": ...}}``; a
list of names (a model of several inputs, such as the RNN's x_0, x_1, ...) gives a list of
such entries. ``read_signature`` reads both forms back, and also plain lists of names.
"""

from matrixslow.core import Variable, get_default_graph


class Exporter:
    """Build service signatures for the nodes of ``graph``.

    Parameters
    ----------
    graph : Graph, optional
        Defaults to the current default graph.
    """

    def __init__(self, graph=None):
        self.graph = get_default_graph() if graph is None else graph

    def signature(self, inputs, outputs):
        """The signature naming ``inputs`` (input Variables) and ``outputs`` (any nodes).

        Parameters
        ----------
        inputs, outputs : str or list of str
            Full node names ("x", "Output/MatMul:12"). Every input must be a
            non-trainable Variable: that is what a request's tensor is set into.

        Returns
        -------
        dict
            ``{"inputs": entry or [entries], "outputs": entry or [entries]}``, each
            entry ``{"name": node name}``; one entry for a single name, a list for a list.

        Raises
        ------
        ValueError
            For a name the graph does not have, an input that is not an input Variable,
            an empty list, or a name used twice.
        """
        return {
            "inputs": self._entries(inputs, "input", self._check_input),
            "outputs": self._entries(outputs, "output", lambda node: None),
        }

    def _entries(self, names, role, check):
        single = isinstance(names, str)
        names = [names] if single else list(names)
        if not names:
            raise ValueError(f"Exporter.signature: no {role} names given; expected a node name or a list of them")
        if len(set(names)) != len(names):
            raise ValueError(f"Exporter.signature: {role} names {names} repeat a name")
        for name in names:
            if not isinstance(name, str):
                raise ValueError(f"Exporter.signature: {role} name {name!r} is a {type(name).__name__}, expected str")
            node = self.graph.get(name)
            if node is None:
                raise ValueError(f"Exporter.signature: the graph has no {role} node named {name!r}")
            check(node)
        entries = [{"name": name} for name in names]
        return entries[0] if single else entries

    @staticmethod
    def _check_input(node):
        if not isinstance(node, Variable) or node.trainable:
            raise ValueError(
                f"Exporter.signature: input {node.describe()} must be a non-trainable Variable "
                f"(a request's tensor is set into it)"
            )


def read_signature(signature):
    """The input and output node names of a stored signature.

    Accepts the Exporter's forms (an entry ``{"name": n}`` or a list of entries) and
    plain lists of names for each of "inputs" and "outputs".

    Returns
    -------
    (list of str, list of str)

    Raises
    ------
    ValueError
        Naming the part of the signature that is missing or malformed.
    """
    if not isinstance(signature, dict):
        raise ValueError(f"service signature must be a dict with 'inputs' and 'outputs', got {signature!r}")
    return _names(signature, "inputs"), _names(signature, "outputs")


def _names(signature, key):
    value = signature.get(key)
    entries = value if isinstance(value, list) else [value]
    names = []
    for entry in entries:
        name = entry.get("name") if isinstance(entry, dict) else entry
        if not isinstance(name, str) or not name:
            raise ValueError(
                f"service signature {key!r} must be a node name entry {{'name': ...}} or a list of them, got {value!r}"
            )
        names.append(name)
    if not names:
        raise ValueError(f"service signature {key!r} is empty")
    return names
