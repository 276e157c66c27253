"""Which keyword arguments a saved node of a given type may carry: the settings its ``__init__`` names.

A node keeps the keyword arguments it was built with in ``node.kargs`` (what the
base ``Node`` does not take for itself), and the saver writes them out. Its type
takes exactly the settings some ``__init__`` of its class names, below ``Node``
(``ReLU``'s ``nslope``, ``MaxPooling``'s ``size`` and ``stride``), so the accepted set
is read from those signatures: it follows the classes as they change, and a user's
registered type declares its settings the same way. Anything else in a file, such
as ``{"__class__": "os.system"}``, is refused rather than kept on the node.
"""

import inspect

from ..core import Node, Variable

# Node's own keyword argument that a file may carry (the original MatrixSlow writes it).
_NODE_KARGS = frozenset({"need_save"})
# Passed by the loader itself, from other fields of the entry: a file may not set them in kargs.
_SET_BY_LOADER = frozenset({"name", "graph"})
_SET_BY_LOADER_FOR_VARIABLES = frozenset({"dim", "init", "trainable"})


def accepted_kargs(node_type):
    """The keyword arguments a saved entry of ``node_type`` (a Node subclass) may have in its kargs."""
    names = set(_NODE_KARGS)
    for cls in node_type.__mro__:
        if not (isinstance(cls, type) and issubclass(cls, Node)) or cls is Node or "__init__" not in vars(cls):
            continue
        for parameter in list(inspect.signature(vars(cls)["__init__"]).parameters.values())[1:]:
            # Settings are keyword-only or have a default; required positional ones are the parents.
            if parameter.kind is parameter.KEYWORD_ONLY or (
                parameter.kind is parameter.POSITIONAL_OR_KEYWORD and parameter.default is not parameter.empty
            ):
                names.add(parameter.name)
    names -= _SET_BY_LOADER
    if issubclass(node_type, Variable):
        names -= _SET_BY_LOADER_FOR_VARIABLES
    return frozenset(names)


def kargs_problem(node_type, kargs):
    """What is wrong with the kargs of a saved ``node_type`` node, or None: a key it does not take, a bad need_save."""
    accepted = accepted_kargs(node_type)
    for key in kargs:
        if key not in accepted:
            takes = ", ".join(sorted(accepted))
            return (
                f"kargs has key '{key}', which {node_type.__name__} does not take (it takes: {takes}); a setting "
                f"of your own node type must be a keyword argument of its __init__"
            )
    if not isinstance(kargs.get("need_save", True), bool):
        return f"kargs 'need_save' must be true or false, got {kargs['need_save']!r}"
    return None
