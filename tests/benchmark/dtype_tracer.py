"""A dtype tracer: run a call and record every floating-point array of the wrong dtype that it holds.

``sys.settrace`` stops at each line and each return of every function defined in the traced modules
(the twins, their helpers, Adam). There it looks at the frame's locals, walking into lists, tuples,
dicts and the attributes of those modules' own objects (a twin's parameters, Adam's moments), and at
the return value. So every named intermediate and every result of a twin's step is checked; integer
and boolean arrays (winner positions, masks) are indices, not arithmetic, and are left alone.

What it cannot see: a temporary inside one expression that is cast back before it gets a name. The
twins do that only where matrixslow does the same (the leaky-ReLU slope, the max-pool scatter).
"""

import sys
from collections import Counter

import numpy as np


class DtypeTrace:
    """Record, per function, the arrays checked and those whose floating dtype is not ``dtype``.

    Parameters
    ----------
    dtype : the dtype every floating-point array must have.
    modules : the modules whose functions are traced.
    """

    def __init__(self, dtype, modules):
        self.dtype = np.dtype(dtype)
        self.filenames = {module.__file__ for module in modules}
        self.module_names = {module.__name__ for module in modules}
        self.checked = Counter()  # function qualname -> arrays looked at
        self.wrong = {}  # "function: name" -> "dtype at line n", the first time it is seen

    def run(self, function, *args):
        """Call ``function(*args)`` under the tracer and return its result."""
        previous = sys.gettrace()  # a debugger's or coverage's tracer comes back afterwards
        sys.settrace(self._on_call)
        try:
            return function(*args)
        finally:
            sys.settrace(previous)

    def report(self):
        return "\n".join(f"{where} is {what}" for where, what in self.wrong.items())

    def _on_call(self, frame, event, arg):
        return self._on_event if frame.f_code.co_filename in self.filenames else None

    def _on_event(self, frame, event, arg):
        if event in ("line", "return"):
            function, seen = frame.f_code.co_qualname, set()
            for name, value in frame.f_locals.items():
                self._check(function, frame.f_lineno, name, value, seen)
            if event == "return":
                self._check(function, frame.f_lineno, "<return value>", arg, seen)
        return self._on_event

    def _check(self, function, line, name, value, seen):
        if id(value) in seen:
            return
        seen.add(id(value))
        if isinstance(value, (np.ndarray, np.generic)):
            self.checked[function] += 1
            if value.dtype.kind in "fc" and value.dtype != self.dtype:
                self.wrong.setdefault(f"{function}: {name}", f"{value.dtype} at line {line}")
        elif isinstance(value, (list, tuple)):
            for index, item in enumerate(value):
                self._check(function, line, f"{name}[{index}]", item, seen)
        elif isinstance(value, dict):
            for key, item in value.items():
                self._check(function, line, f"{name}[{key!r}]", item, seen)
        elif type(value).__module__ in self.module_names:
            for attribute, item in vars(value).items():
                self._check(function, line, f"{name}.{attribute}", item, seen)
