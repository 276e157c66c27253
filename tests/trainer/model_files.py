"""Good model directories, and the hand-made bad files the model file tests put into them."""

import hashlib
import json
import pickle
import zipfile

import numpy as np

import matrixslow as ms
from matrixslow.core import Variable
from matrixslow.ops import MatMul, ReLU
from matrixslow.trainer import Saver

SIGNATURE = {"inputs": [{"name": "x"}], "outputs": [{"name": "predict"}]}


def save_good_model(directory, seed=0):
    """Save a small fc model (x (4, 1) -> ReLU(w @ x + b) "predict") into ``directory``; return its graph."""
    np.random.seed(seed)
    with ms.core.Graph() as graph:
        x = Variable((4, 1), init=False, trainable=False, name="x")
        ReLU(ms.layer.fc(x, 4, 3, None), nslope=0.2, name="predict")
    Saver(directory).save(graph, meta={"note": "good"}, service_signature=SIGNATURE)
    return graph


def save_matmul_model(directory, rows, cols):
    """Save w (rows, cols) @ x (cols, 1); the weights file holds only 'w'."""
    with ms.core.Graph() as graph:
        x = Variable((cols, 1), init=False, trainable=False, name="x")
        MatMul(Variable((rows, cols), init="zeros", name="w"), x, name="predict")
    Saver(directory).save(graph, service_signature=SIGNATURE)


def read_model(directory):
    return json.loads((directory / "model.json").read_text())


def write_model(directory, model):
    (directory / "model.json").write_text(json.dumps(model))


def write_weights(directory, data):
    """Replace the weights file by ``data`` and record its sha256, so that only its content can fail the load."""
    (directory / "weights.npz").write_bytes(data)
    model = read_model(directory)
    model["weights_sha256"] = hashlib.sha256(data).hexdigest()
    write_model(directory, model)


def npz_of(path, members, compresslevel=None):
    """Write a zip archive of ``members`` (member name -> bytes, or an ndarray written as .npy)."""
    compression = zipfile.ZIP_STORED if compresslevel is None else zipfile.ZIP_DEFLATED
    with zipfile.ZipFile(path, "w", compression, compresslevel=compresslevel) as archive:
        for name, value in members.items():
            if isinstance(value, bytes):
                archive.writestr(name, value)
            else:
                with archive.open(name, "w") as handle:
                    np.lib.format.write_array(handle, value)
    return path.read_bytes()


def raw_pickle():
    """A member that is no .npy data: a bare pickle stream."""
    return pickle.dumps({"rm": "-rf"})


def write_bomb(path, name, shape, chunk=1 << 22):
    """A deflated .npz whose member ``name`` declares ``shape`` float64 and holds that many zeros.

    Written chunk by chunk, so making it costs no more memory than reading it should.
    """
    header = {"descr": "<f8", "fortran_order": False, "shape": tuple(shape)}
    zeros = bytes(chunk)
    with (
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive,
        archive.open(name, "w", force_zip64=True) as handle,
    ):
        np.lib.format.write_array_header_1_0(handle, header)
        left = int(np.prod(shape)) * 8
        while left:
            handle.write(zeros[: min(left, chunk)])
            left -= min(left, chunk)
    return path
