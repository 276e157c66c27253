"""Where each installed package comes from (everything else is in pyproject.toml).

The repository keeps ``serving/`` and ``datasets/`` at its top level, but a top-level ``datasets``
package would clash with Hugging Face's (and ``serving`` is just as generic a name), so they are
installed inside the ``matrixslow`` namespace: ``serving/`` as ``matrixslow.serving``, ``datasets/``
as ``matrixslow.datasets``. pyproject.toml cannot both find packages and map folders, hence this file.
"""

from setuptools import find_packages, setup

FOLDERS_INSIDE_MATRIXSLOW = ("serving", "datasets")


def mapped_packages():
    packages = find_packages(include=["matrixslow", "matrixslow.*", "matrixslow_serving", "matrixslow_serving.*"])
    for folder in FOLDERS_INSIDE_MATRIXSLOW:
        packages += [f"matrixslow.{folder}"] + [f"matrixslow.{folder}.{sub}" for sub in find_packages(where=folder)]
    return packages


setup(
    packages=mapped_packages(),
    package_dir={f"matrixslow.{folder}": folder for folder in FOLDERS_INSIDE_MATRIXSLOW},
)
