"""The book's model layout: one directory holding a named model file and weights file, served as it is.

``MatrixSlowServer(host, "./epoches10", "my_model.json", "my_weights.npz")`` serves those two files;
``serving.ModelStore`` serves version sub-directories (``DIR/1/model.json``) with fixed names and
watches for new ones. ``BookModelStore`` is that store for the book's one pair of files: loaded
once, served as version 1, never swapped. It also tells whether the original MatrixSlow wrote the
files, since the original's trainer fed every sample transposed (see ``book_predict``).
"""

import json
from pathlib import Path

from matrixslow.core import Graph
from matrixslow.serving.errors import ModelLoadError
from matrixslow.serving.exporter import read_signature
from matrixslow.serving.model_store import ModelStore, servable_model
from matrixslow.trainer.original_format import is_original
from matrixslow.trainer.saver import ModelFileError, Saver

BOOK_VERSION = 1


def load_model_files(root_dir, model_file_name, weights_file_name):
    """Load ``root_dir/model_file_name`` and its weights into a new graph, checked as a served version is.

    The checks are those of ``serving.model_store.load_version`` (which takes a version directory
    with fixed file names): the signature names input Variables and nodes of the graph, and one
    sample of zeros runs through every output.

    Raises
    ------
    ModelLoadError
        Naming the files and what is wrong with them.
    """
    root = Path(root_dir)
    where = f"model {root / model_file_name} (weights {weights_file_name})"
    graph = Graph()
    try:
        meta, signature = Saver(root).load(graph, model_file_name=model_file_name, weights_file_name=weights_file_name)
        if not signature:
            raise ValueError("it was saved without a service_signature; save it with Exporter().signature(...)")
        input_names, output_names = read_signature(signature)
    except (ModelFileError, ValueError, OSError) as error:
        raise ModelLoadError(f"{where} cannot be served: {error}") from error
    return servable_model(graph, input_names, output_names, meta, BOOK_VERSION, root, where)


class BookModelStore(ModelStore):
    """A ``ModelStore`` serving one named pair of files as version 1, with no watcher.

    Parameters
    ----------
    root_dir : str or path-like
    model_file_name, weights_file_name : str
    on_swap : callable, optional
        Called with the LoadedModel once it is loaded (for metrics).

    Attributes
    ----------
    saved_by_original : bool
        The model file is the original MatrixSlow's (it has no ``format_version``).
    """

    def __init__(self, root_dir, model_file_name, weights_file_name, on_swap=None):
        super().__init__(root_dir, on_swap=on_swap)
        self.model_file_name = model_file_name
        self.weights_file_name = weights_file_name
        self.saved_by_original = False

    def load_initial(self):
        model = load_model_files(self.model_dir, self.model_file_name, self.weights_file_name)
        # The Saver has just read and checked this JSON, so reading it again cannot fail on its content.
        self.saved_by_original = is_original(json.loads((self.model_dir / self.model_file_name).read_text()))
        self._swap(model)
        return self.current

    def available_versions(self):
        return [BOOK_VERSION]

    def check_once(self):
        return False  # the book's server serves the files it started with

    def start_watching(self):
        pass
