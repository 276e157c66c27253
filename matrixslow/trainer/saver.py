"""Save a graph to a structure file (JSON) and a weights file (.npz), and load it back.

``model.json`` lists the nodes (type, name, parents, keyword arguments) with the
user's meta data and service signature; ``weights.npz`` holds every Variable's
matrix, keyed by node name. Both files are written atomically, the weights first:
``model.json`` is the commit point, and the weights' sha256 recorded in it
detects a pair mixed from two saves. Until the new ``model.json`` is in place, the
previous weights stay under a second name that ``load`` falls back to, so a process
killed at any point of a save leaves the previous model or the new one loadable.
The next save or load removes what a killed save left behind.

``load`` also reads a model directory written by the original MatrixSlow's
Saver (its model file has no ``format_version``); ``original_format`` translates it.

The work is split by job: ``model_writer`` encodes the two files,
``atomic_files`` commits them, ``model_reader`` reads and checks them, and
``restore`` puts a checked model into a graph.
"""

from pathlib import Path

from ..core import get_default_graph
from .atomic_files import commit_files, remove_stale
from .errors import ModelFileError
from .model_reader import read_model_files
from .model_writer import encode_model
from .restore import restore_graph

__all__ = ["ModelFileError", "Saver"]


class Saver:
    """Save graphs to, and load them from, the directory ``root_dir`` (created by the first save).

    Parameters
    ----------
    root_dir : str or path-like, default "" (the working directory, as in the book)
    """

    def __init__(self, root_dir=""):
        self.root_dir = Path(root_dir)

    def save(
        self,
        graph=None,
        meta=None,
        service_signature=None,
        model_file_name="model.json",
        weights_file_name="weights.npz",
    ):
        """Write the graph's structure and its Variables' values.

        Parameters
        ----------
        graph : Graph, optional
            Defaults to the current default graph. Nodes with ``need_save=False``
            are left out; none of them may be the parent of a saved node.
        meta : dict, optional
            Saved with "save_time" and "matrixslow_version" added.
        service_signature : dict, optional
            What a server needs to know (for example the input and output node names).

        Every Variable whose value is one matrix is saved (trainable weights and
        constants); inputs holding a batch, or nothing, are not.

        A process killed at any point of the save leaves the previous model or this
        one loadable. Only one process may save into a directory at a time.

        Raises
        ------
        ModelFileError
            Before anything is written: for meta or a signature JSON cannot hold,
            or a saved node whose parent has ``need_save=False`` (both are named).
        """
        graph = get_default_graph() if graph is None else graph
        model_path = self.root_dir / model_file_name
        weights_path = self.root_dir / weights_file_name
        # Both files are encoded before the directory is touched, so that a graph
        # which cannot be saved leaves no trace.
        model_bytes, weights_bytes = encode_model(graph, meta, service_signature, model_path)
        self.root_dir.mkdir(parents=True, exist_ok=True)
        remove_stale([weights_path, model_path])
        # The model file goes last: it is the commit point.
        commit_files([(weights_path, weights_bytes), (model_path, model_bytes)])

    def load(self, to_graph=None, model_file_name="model.json", weights_file_name="weights.npz"):
        """Rebuild a saved graph, or restore its values into a graph that has its nodes.

        Parameters
        ----------
        to_graph : Graph, optional
            Defaults to the current default graph. Saved nodes missing from it are
            created (only types registered in ``ms.core.NODE_TYPES``); nodes it
            already has keep their wiring and only their Variables' values are set.
            An empty graph whose dtype was not chosen takes the saved dtype; a
            graph with its own dtype keeps it and converts the values.

        A model saved by the original MatrixSlow loads too: its node types, names
        and weights; its metrics are left out, and which Variables are trainable,
        which it does not record, is inferred (see ``original_format.fixed_variables``).

        After reading, the files that killed saves left in the directory (unchanged
        for ``atomic_files.STALE_AFTER_SECONDS``) are removed, as the next save does.

        Raises
        ------
        ModelFileError
            For a file that is missing, corrupt or inconsistent, naming the file and
            the field or node at fault; the graph is left as it was. Whatever goes
            wrong while reading or rebuilding is one (MemoryError aside), and sizes
            are bounded before anything is allocated for them (``model_limits``): a
            weight's .npy header is compared with the model file before its data is read.

        Returns
        -------
        meta : dict
        service_signature : dict
        """
        graph = get_default_graph() if to_graph is None else to_graph
        model_path = self.root_dir / model_file_name
        weights_path = self.root_dir / weights_file_name
        model, weights = read_model_files(model_path, weights_path)
        remove_stale([weights_path, model_path])
        # Everything is checked before the first node is created, so that a bad
        # file leaves the graph as it was.
        restore_graph(graph, model, weights, model_path)
        return model["meta"], model["service"]
