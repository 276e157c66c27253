"""Make ``import serving`` mean this project's serving package, even beside the book's ``serving.py``.

The book's chapter-10 folder holds its server program ``serving.py`` next to
``saver_example.py`` and ``client.py``. Python puts a program's folder first on
``sys.path``, so there ``import serving`` finds the book's program (and runs it)
instead of the package this one wraps. So the package is loaded from where it is
installed, beside this one, whatever ``sys.path`` says.
"""

import importlib.util
import sys
from pathlib import Path

OUR_SERVING = Path(__file__).resolve().parent.parent / "serving"


def use_our_serving_package():
    """Put this project's ``serving`` package in ``sys.modules["serving"]`` (once) and return it."""
    loaded = sys.modules.get("serving")
    if loaded is not None and _is_ours(loaded):
        return loaded
    init = OUR_SERVING / "__init__.py"
    if not init.is_file():
        raise ImportError(f"matrixslow_serving needs the serving package installed beside it, at {OUR_SERVING}")
    spec = importlib.util.spec_from_file_location("serving", init, submodule_search_locations=[str(OUR_SERVING)])
    module = importlib.util.module_from_spec(spec)
    sys.modules["serving"] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules["serving"]
        raise
    return module


def _is_ours(module):
    return any(Path(entry).resolve() == OUR_SERVING for entry in getattr(module, "__path__", ()))
