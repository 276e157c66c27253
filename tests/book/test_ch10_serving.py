"""Chapter 10: the book's ``serving.py`` and ``client.py``, written as the book writes them.

The book trains a network into the default graph, exports its signature with
``matrixslow_serving.exporter.Exporter``, saves it with ``ms.trainer.Saver``, serves the
directory with ``mss.serving.MatrixSlowServer(...).serve()`` and asks it from a client built
on ``serving_pb2`` / ``serving_pb2_grpc`` imported from ``matrixslow_serving.serving``: one
``Matrix`` (values and dim) per image, and the answer's first Matrix is the probabilities.
Here the images are scikit-learn's bundled 8x8 digits and the network is shrunk to fit.

The server must answer what the local graph computes for the same image, keep serving after
a malformed request (answered with an error that names what was wrong), answer our own
``serving.Client`` on the same port, and serve a model written by the original MatrixSlow the
way the original's server did: with each image transposed, as the original's trainer fed it.
"""

import subprocess
import sys
import threading
import time
from pathlib import Path

import grpc
import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.preprocessing import OneHotEncoder

import matrixslow as ms
import matrixslow_serving as mss
from matrixslow import serving
from matrixslow.dist.launch import free_loopback_addresses
from matrixslow.serving.errors import ModelLoadError
from matrixslow.trainer import SimpleTrainer
from matrixslow_serving.exporter import Exporter
from matrixslow_serving.serving import serving_pb2, serving_pb2_grpc
from tests.book.original_saver_fixture import save_as_original

img_shape = (8, 8)
TRAIN, TEST = slice(0, 160), slice(160, 176)
WAIT_SECONDS = 30


def digits():
    """The digits as 8x8 images in [0, 1], and their one-hot labels."""
    X, y = load_digits(return_X_y=True)
    oh = OneHotEncoder(sparse_output=False)  # the book's OneHotEncoder(sparse=False), renamed in scikit-learn 1.2
    return np.reshape(X / 16, (-1, *img_shape)), oh.fit_transform(y.reshape(-1, 1))


def train_and_save(directory, save="ours"):
    """``saver_example.py`` at 8x8: a conv network trained one epoch, exported and saved."""
    np.random.seed(0)
    X, one_hot_label = digits()
    x = ms.core.Variable(img_shape, init=False, trainable=False, name="img_input")
    one_hot = ms.core.Variable(dim=(10, 1), init=False, trainable=False)
    conv1 = ms.layer.conv([x], img_shape, 2, (3, 3), "ReLU")
    pooling1 = ms.layer.pooling(conv1, (3, 3), (2, 2))
    fc1 = ms.layer.fc(ms.ops.Concat(*pooling1), 32, 16, "ReLU")
    output = ms.layer.fc(fc1, 16, 10, "None")
    ms.ops.SoftMax(output, name="softmax_output")
    loss = ms.ops.loss.CrossEntropyWithSoftMax(output, one_hot)
    optimizer = ms.optimizer.RMSProp(ms.default_graph, loss, 0.05)
    trainer = SimpleTrainer([x], one_hot, loss, optimizer, epoches=1, batch_size=32, verbose=False)
    trainer.train_and_eval({x.name: X[TRAIN]}, one_hot_label[TRAIN])

    exporter = Exporter()
    sig = exporter.signature("img_input", "softmax_output")
    if save == "ours":
        saver = ms.trainer.Saver(directory)
        saver.save(model_file_name="my_model.json", weights_file_name="my_weights.npz", service_signature=sig)
    else:
        # The original's trainer fed one sample at a time, so its nodes held one sample when it saved.
        x.set_value(X[TRAIN][-1])
        one_hot.set_value(one_hot_label[TRAIN][-1].reshape(10, 1))
        loss.forward()
        save_as_original(
            ms.default_graph,
            directory,
            service_signature=sig,
            model_file_name="my_model.json",
            weights_file_name="my_weights.npz",
        )
    return X[TEST]


def local_predict(image):
    """``load_example.py``'s step on the default graph: set the image, forward, read the probabilities."""
    x = ms.get_node_from_graph("img_input")
    pred = ms.get_node_from_graph("softmax_output")
    x.set_value(np.asmatrix(image))
    pred.forward()
    return pred.value.A


class MatrixSlowServingClient:
    """``client.py``'s client, as the book writes it."""

    def __init__(self, host):
        self.stub = serving_pb2_grpc.MatrixSlowServingStub(grpc.insecure_channel(host))

    def Predict(self, mat_data_list):  # noqa: N802 (the book's name)
        req = serving_pb2.PredictReq()
        for mat in mat_data_list:
            proto_mat = req.data.add()
            proto_mat.value.extend(np.array(mat).flatten())
            proto_mat.dim.extend(list(mat.shape))
        return self.stub.Predict(req, timeout=WAIT_SECONDS)


def resp_matrices(resp):
    """``client.py``'s decoding of an answer: one np.matrix per Matrix."""
    resp_mat_list = []
    for proto_mat in resp.data:
        dim = tuple(proto_mat.dim)
        mat = np.asmatrix(proto_mat.value, dtype=np.float32)  # the book's np.mat, removed in NumPy 2
        resp_mat_list.append(np.reshape(mat, dim))
    return resp_mat_list


class ServingThread:
    """``serving.py``: ``MatrixSlowServer(...).serve()``, which blocks, run in a thread and stopped by the test."""

    def __init__(self, root_dir):
        self.host = free_loopback_addresses(1)[0]
        self.server = mss.serving.MatrixSlowServer(
            host=self.host, root_dir=str(root_dir), model_file_name="my_model.json", weights_file_name="my_weights.npz"
        )
        self.thread = threading.Thread(target=self.server.serve, daemon=True)

    def __enter__(self):
        self.thread.start()
        # Connect once the port is bound: a refused first connection costs gRPC's 1 s reconnect backoff.
        give_up_at = time.monotonic() + WAIT_SECONDS
        while self.server.address is None and self.thread.is_alive() and time.monotonic() < give_up_at:
            time.sleep(0.005)
        with serving.Client(self.host) as client:
            client.wait_until_serving(WAIT_SECONDS)
        return self

    def __exit__(self, *exc_info):
        self.server.stop()
        self.thread.join(WAIT_SECONDS)
        assert not self.thread.is_alive(), "serve() did not return after stop()"


def test_the_book_client_gets_what_the_local_graph_predicts(tmp_path, capsys):
    images = train_and_save(tmp_path)
    with ServingThread(tmp_path) as running:
        client = MatrixSlowServingClient(running.host)
        for img in images:
            resp = client.Predict([img])
            (probabilities,) = resp_matrices(resp)
            assert probabilities.shape == (10, 1)
            np.testing.assert_allclose(probabilities, local_predict(img), rtol=1e-5, atol=1e-7)
            assert np.argmax(probabilities) == np.argmax(local_predict(img))
    assert f"MatrixSlow server running on {running.host}" in capsys.readouterr().out


def test_several_images_in_one_request_get_one_answer_each_in_order(tmp_path):
    images = train_and_save(tmp_path)
    with ServingThread(tmp_path) as running:
        answers = resp_matrices(MatrixSlowServingClient(running.host).Predict(list(images)))
    expected = np.array([local_predict(img) for img in images])
    np.testing.assert_allclose(np.array(answers), expected, rtol=1e-5, atol=1e-7)
    assert not np.allclose(expected, expected[0])  # the images get different answers: the weights matter


def malformed_requests():
    """Requests a careless book client might send, and a word each answer must contain."""
    wrong_dim = serving_pb2.PredictReq(data=[serving_pb2.Matrix(value=np.zeros(64), dim=[4, 16])])
    too_few = serving_pb2.PredictReq(data=[serving_pb2.Matrix(value=np.zeros(63), dim=[8, 8])])
    flat = serving_pb2.PredictReq(data=[serving_pb2.Matrix(value=np.zeros(64), dim=[64])])
    three_axes = serving_pb2.PredictReq(data=[serving_pb2.Matrix(value=np.zeros(64), dim=[1, 8, 8])])
    not_finite = serving_pb2.PredictReq(data=[serving_pb2.Matrix(value=[np.nan] * 64, dim=[8, 8])])
    return {
        "wrong dim": (wrong_dim, "dim [4, 16] does not fit"),
        "too few values": (too_few, "63 values do not fill dim [8, 8]"),
        "a flat image": (flat, "dim [64] does not fit"),
        "three axes": (three_axes, "is not [rows, cols]"),
        "NaN": (not_finite, "finite"),
        "no Matrix": (serving_pb2.PredictReq(), "empty request"),
    }


def test_a_malformed_request_gets_a_clear_error_and_the_server_keeps_serving(tmp_path):
    images = train_and_save(tmp_path)
    with ServingThread(tmp_path) as running:
        client = MatrixSlowServingClient(running.host)
        for what, (request, words) in malformed_requests().items():
            with pytest.raises(grpc.RpcError) as caught:
                client.stub.Predict(request, timeout=WAIT_SECONDS)
            assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT, what
            details = caught.value.details()
            assert words in details, (what, details)
            if what != "NaN":
                assert "input 'img_input' of dim (8, 8)" in details and "dim [8, 8]" in details, (what, details)
            (probabilities,) = resp_matrices(client.Predict([images[0]]))
            np.testing.assert_allclose(probabilities, local_predict(images[0]), rtol=1e-5, atol=1e-7)


def test_a_request_that_is_not_a_predict_req_is_invalid_argument(tmp_path):
    train_and_save(tmp_path)
    with ServingThread(tmp_path) as running:
        channel = grpc.insecure_channel(running.host)
        raw = channel.unary_unary("/matrixslow.serving.MatrixSlowServing/Predict")
        with pytest.raises(grpc.RpcError) as caught:
            raw(b"\xff\xff\xff", timeout=WAIT_SECONDS)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "matrixslow.serving.PredictReq" in caught.value.details()


def test_the_same_port_answers_our_client_too(tmp_path):
    images = train_and_save(tmp_path)
    with ServingThread(tmp_path) as running, serving.Client(running.host) as ours:
        answer = ours.predict({"img_input": images})["softmax_output"]
        status = ours.status()
    np.testing.assert_allclose(answer, np.array([local_predict(img) for img in images]), rtol=1e-12)
    assert status["inputs"] == [{"name": "img_input", "dim": (8, 8), "dtype": "float64"}]


def test_a_model_saved_by_the_original_is_served_as_the_originals_server_did(tmp_path):
    """The original's trainer and server set each sample's transpose; the book's shipped models expect it."""
    images = train_and_save(tmp_path, save="original")
    with ServingThread(tmp_path) as running:
        client = MatrixSlowServingClient(running.host)
        answers = [resp_matrices(client.Predict([img]))[0] for img in images]
        with pytest.raises(grpc.RpcError) as caught:
            client.Predict([np.zeros((4, 16))])
    for img, probabilities in zip(images, answers, strict=True):
        np.testing.assert_allclose(probabilities, local_predict(img.T), rtol=1e-5, atol=1e-7)
    untransposed = np.array([local_predict(img) for img in images])
    assert not np.allclose(np.array(answers), untransposed, rtol=1e-3)  # the transpose is really taken
    assert "saved by the original MatrixSlow" in caught.value.details()


def test_a_column_vector_input_takes_the_book_s_row(tmp_path):
    """The book's other input form: an (n, 1) input, fed a row of features as ``np.mat(row).T`` would be."""
    np.random.seed(1)
    x = ms.core.Variable(dim=(64, 1), init=False, trainable=False, name="img_input")
    output = ms.layer.fc(x, 64, 10, "None")
    ms.ops.SoftMax(output, name="softmax_output")
    ms.trainer.Saver(tmp_path).save(
        model_file_name="my_model.json",
        weights_file_name="my_weights.npz",
        service_signature=Exporter().signature("img_input", "softmax_output"),
    )
    row = digits()[0][0].reshape(64)
    with ServingThread(tmp_path) as running:
        client = MatrixSlowServingClient(running.host)
        for sample in (row, row.reshape(1, 64), row.reshape(64, 1)):
            (probabilities,) = resp_matrices(client.Predict([sample]))
            np.testing.assert_allclose(probabilities, local_predict(row.reshape(64, 1)), rtol=1e-5, atol=1e-7)


def test_a_model_with_two_outputs_is_refused_by_the_book_s_predict_only(tmp_path):
    np.random.seed(2)
    x = ms.core.Variable(dim=(4, 1), init=False, trainable=False, name="x")
    output = ms.layer.fc(x, 4, 3, "None")
    ms.ops.SoftMax(output, name="softmax_output")
    sig = serving.Exporter().signature("x", [output.name, "softmax_output"])
    ms.trainer.Saver(tmp_path).save(
        model_file_name="my_model.json", weights_file_name="my_weights.npz", service_signature=sig
    )
    with ServingThread(tmp_path) as running, serving.Client(running.host) as ours:
        with pytest.raises(grpc.RpcError) as caught:
            MatrixSlowServingClient(running.host).Predict([np.zeros((1, 4))])
        assert set(ours.predict({"x": np.zeros((4, 1))})) == {output.name, "softmax_output"}
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "one output" in caught.value.details() and "serving.Client" in caught.value.details()


def test_a_directory_without_the_model_fails_at_once_naming_the_file(tmp_path):
    with pytest.raises(ModelLoadError, match="my_model.json"):
        mss.serving.MatrixSlowServer("127.0.0.1:0", str(tmp_path), "my_model.json", "my_weights.npz")


def test_a_model_saved_without_a_signature_names_the_fix(tmp_path):
    train_and_save(tmp_path)
    ms.trainer.Saver(tmp_path).save(model_file_name="plain.json", weights_file_name="plain.npz")
    with pytest.raises(ModelLoadError, match="service_signature"):
        mss.serving.MatrixSlowServer("127.0.0.1:0", str(tmp_path), "plain.json", "plain.npz")


def test_the_book_s_names_are_aliases_of_ours():
    assert mss.Exporter is mss.exporter.Exporter is serving.Exporter
    assert serving_pb2.DESCRIPTOR.package == "matrixslow.serving"
    assert list(serving_pb2.DESCRIPTOR.services_by_name) == ["MatrixSlowServing"]
    assert hasattr(serving_pb2_grpc, "MatrixSlowServingStub") and mss.serving.serving_pb2 is serving_pb2


def test_the_book_s_folder_with_its_own_serving_py_leaves_it_alone(tmp_path):
    # The book's ch10 folder holds its server program serving.py beside saver_example.py and client.py,
    # and Python puts a program's folder first on sys.path. Our server installs as matrixslow.serving,
    # so nothing we import is named ``serving``: the book's program is never run by an import of ours.
    (tmp_path / "serving.py").write_text('raise SystemExit("the book\'s serving.py was imported")\n')
    program = tmp_path / "saver_example.py"
    program.write_text(
        "import sys\n"
        "import matrixslow_serving as mss\n"
        "from matrixslow_serving.exporter import Exporter\n"
        "from matrixslow_serving.serving import serving_pb2\n"
        "from matrixslow import serving\n"
        "assert Exporter is serving.Exporter and mss.serving.MatrixSlowServer\n"
        "assert 'serving' not in sys.modules, sys.modules['serving']\n"
        "print(serving.__file__)\n"
    )
    result = subprocess.run(
        [sys.executable, str(program)], cwd=tmp_path, capture_output=True, text=True, timeout=WAIT_SECONDS
    )
    assert result.returncode == 0, result.stderr
    serving_file = Path(result.stdout.strip())
    assert serving_file.name == "__init__.py" and tmp_path not in serving_file.parents
