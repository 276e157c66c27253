"""Chapter 10: the book's ``saver_example.py`` and ``load_example.py``, written as the book writes them.

The book trains a convolutional network on MNIST, saves it with its service
signature, and a second program reloads it into the default graph, finds the input
and output nodes by name and predicts image by image. Here the images are
scikit-learn's bundled 8x8 digits (the network shrunk to fit), plus an ``ms.layer.fc``
network on column vectors, the book's other input form.

A reader of the book has model directories written by the ORIGINAL MatrixSlow's
Saver; ``original_saver_fixture`` writes one in that format from our graph, and
``Saver.load`` must rebuild it to predict exactly what the saved model did, and what
plain NumPy computes from the saved weights. Our own Saver's round trip is checked too.
"""

import json

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.preprocessing import OneHotEncoder

import matrixslow as ms
from matrixslow.serving.exporter import Exporter
from matrixslow.trainer import SimpleTrainer
from tests.book.original_saver_fixture import save_as_original

img_shape = (8, 8)
TRAIN, TEST = slice(0, 160), slice(160, 180)


def digits():
    """The digits as 8x8 images in [0, 1], and their one-hot labels."""
    X, y = load_digits(return_X_y=True)
    oh = OneHotEncoder(sparse_output=False)  # the book's OneHotEncoder(sparse=False), renamed in scikit-learn 1.2
    return np.reshape(X / 16, (-1, *img_shape)), oh.fit_transform(y.reshape(-1, 1))


def conv_network():
    """``saver_example.py``'s network at 8x8: two conv + pooling layers, then two fc layers."""
    x = ms.core.Variable(img_shape, init=False, trainable=False, name="img_input")
    one_hot = ms.core.Variable(dim=(10, 1), init=False, trainable=False)
    conv1 = ms.layer.conv([x], img_shape, 2, (3, 3), "ReLU")
    pooling1 = ms.layer.pooling(conv1, (3, 3), (2, 2))
    conv2 = ms.layer.conv(pooling1, (4, 4), 2, (3, 3), "ReLU")
    pooling2 = ms.layer.pooling(conv2, (3, 3), (2, 2))
    fc1 = ms.layer.fc(ms.ops.Concat(*pooling2), 8, 16, "ReLU")
    output = ms.layer.fc(fc1, 16, 10, "None")
    return x, one_hot, output


def fc_network():
    """The book's fc network on each image as a (64, 1) column vector."""
    x = ms.core.Variable(dim=(64, 1), init=False, trainable=False, name="img_input")
    one_hot = ms.core.Variable(dim=(10, 1), init=False, trainable=False)
    fc1 = ms.layer.fc(ms.ops.Reshape(x, shape=(64, 1)), 64, 16, "ReLU")
    output = ms.layer.fc(fc1, 16, 10, "None")
    return x, one_hot, output


def as_input(x, images):
    """The images in the shape the input ``x`` takes: matrices, or column vectors."""
    return images if x.dim == img_shape else images.reshape(len(images), -1, 1)


def train_and_save(network, save, directory):
    """``saver_example.py``: train one epoch, then save with the service signature."""
    np.random.seed(0)
    X, one_hot_label = digits()
    x, one_hot, output = network()
    predict = ms.ops.SoftMax(output, name="softmax_output")
    loss = ms.ops.loss.CrossEntropyWithSoftMax(output, one_hot)
    optimizer = ms.optimizer.RMSProp(ms.default_graph, loss, 0.05)
    accuracy = ms.ops.metrics.Accuracy(output, one_hot)
    trainer = SimpleTrainer(
        [x], one_hot, loss, optimizer, epoches=1, batch_size=32, eval_on_train=True, metrics_ops=[accuracy]
    )
    inputs = as_input(x, X[TRAIN])
    trainer.train_and_eval({x.name: inputs}, one_hot_label[TRAIN], {x.name: inputs}, one_hot_label[TRAIN])
    # The original's trainer feeds one sample at a time, so when it saves its nodes
    # hold the last sample's matrices; ours feeds batches, so that sample is run here.
    x.set_value(inputs[-1])
    one_hot.set_value(one_hot_label[TRAIN][-1].reshape(10, 1))
    loss.forward()
    sig = Exporter().signature("img_input", "softmax_output")
    save(directory, sig)
    assert predict.name == "softmax_output"
    return predict_each(as_input(x, X[TEST]))


def predict_each(images):
    """``load_example.py``'s loop: find the nodes by name, set each image, forward, read the probabilities."""
    x = ms.get_node_from_graph("img_input")
    pred = ms.get_node_from_graph("softmax_output")
    probabilities = []
    for image in images:
        x.set_value(np.asmatrix(image))
        pred.forward()
        probabilities.append(pred.value.A)
    return np.array(probabilities)


def save_original(directory, sig):
    save_as_original(
        ms.default_graph,
        directory,
        service_signature=sig,
        model_file_name="my_model.json",
        weights_file_name="my_weights.npz",
    )


def save_ours(directory, sig):
    saver = ms.trainer.Saver(directory)
    saver.save(model_file_name="my_model.json", weights_file_name="my_weights.npz", service_signature=sig)


def reload(directory):
    """``load_example.py``: the saved model into the book's emptied default graph."""
    ms.default_graph.nodes.clear()
    saver = ms.trainer.Saver(directory)
    return saver.load(model_file_name="my_model.json", weights_file_name="my_weights.npz")


NETWORKS = pytest.mark.parametrize("network", [conv_network, fc_network], ids=["conv", "fc"])


@NETWORKS
def test_a_model_saved_by_the_original_predicts_what_it_did(network, tmp_path):
    saved = train_and_save(network, save_original, tmp_path)
    meta, service = reload(tmp_path)
    assert service == {"inputs": {"name": "img_input"}, "outputs": {"name": "softmax_output"}}
    assert meta["weights_file_name"] == "my_weights.npz"
    images = as_input(ms.get_node_from_graph("img_input"), digits()[0][TEST])
    np.testing.assert_array_equal(predict_each(images), saved)
    assert not np.allclose(saved, saved[0])  # the images get different answers: the weights matter


@NETWORKS
def test_a_model_saved_by_the_original_predicts_what_numpy_computes_from_its_files(network, tmp_path):
    saved = train_and_save(network, save_original, tmp_path)
    model = json.loads((tmp_path / "my_model.json").read_text())
    with np.load(tmp_path / "my_weights.npz") as archive:
        weights = {name: archive[name] for name in archive.files}
    images = as_input(ms.get_node_from_graph("img_input"), digits()[0][TEST])
    expected = np.array([numpy_predict(model, weights, image) for image in images])
    np.testing.assert_allclose(saved, expected, rtol=1e-12, atol=1e-15)
    reload(tmp_path)
    np.testing.assert_allclose(predict_each(images), expected, rtol=1e-12, atol=1e-15)


@NETWORKS
def test_the_rebuilt_graph_has_the_saved_nodes_and_weights(network, tmp_path):
    train_and_save(network, save_original, tmp_path)
    saved = {node.name: (type(node).__name__, [p.name for p in node.parents]) for node in ms.default_graph.nodes}
    with np.load(tmp_path / "my_weights.npz") as archive:
        saved_weights = {name: archive[name] for name in archive.files}
    reload(tmp_path)
    loaded = {node.name: (type(node).__name__, [p.name for p in node.parents]) for node in ms.default_graph.nodes}
    metrics = {name for name, (node_type, _) in saved.items() if node_type == "Accuracy"}
    assert metrics and loaded == {name: entry for name, entry in saved.items() if name not in metrics}
    for name, value in saved_weights.items():
        np.testing.assert_array_equal(ms.get_node_from_graph(name).value, value)


def test_the_rebuilt_conv_network_knows_its_inputs_labels_and_constants(tmp_path):
    train_and_save(conv_network, save_original, tmp_path)
    reload(tmp_path)
    fixed = {node.name for node in ms.default_graph.nodes if isinstance(node, ms.core.Variable) and not node.trainable}
    ones = {node.parents[1].name for node in ms.default_graph.nodes if isinstance(node, ms.ops.ScalarMultiply)}
    label = next(n for n in ms.default_graph.nodes if isinstance(n, ms.ops.CrossEntropyWithSoftMax)).parents[1].name
    assert fixed == {"img_input", label} | ones and len(ones) == 2


def test_a_model_saved_by_the_original_trains_on(tmp_path):
    """The book's ``train.py`` loads a model and trains it further: inputs and labels take batches again."""
    train_and_save(conv_network, save_original, tmp_path)
    reload(tmp_path)
    X, one_hot_label = digits()
    x = ms.get_node_from_graph("img_input")
    loss = next(n for n in ms.default_graph.nodes if isinstance(n, ms.ops.CrossEntropyWithSoftMax))
    one_hot = loss.parents[1]
    weights = {n.name: np.array(n.value) for n in ms.default_graph.nodes if getattr(n, "trainable", False)}
    optimizer = ms.optimizer.RMSProp(ms.default_graph, loss, 0.05)
    trainer = SimpleTrainer([x], one_hot, loss, optimizer, epoches=1, batch_size=32)
    ones = [n.parents[1] for n in ms.default_graph.nodes if isinstance(n, ms.ops.ScalarMultiply)]
    trainer.train({x.name: X[TRAIN]}, one_hot_label[TRAIN])
    assert all(np.array_equal(constant.value, np.ones(constant.dim)) for constant in ones)
    assert all(not np.array_equal(ms.get_node_from_graph(name).value, value) for name, value in weights.items())


def test_the_book_can_load_into_a_graph_of_its_choice(tmp_path):
    saved = train_and_save(fc_network, save_original, tmp_path)
    graph = ms.core.Graph()
    ms.trainer.Saver(tmp_path).load(to_graph=graph, model_file_name="my_model.json", weights_file_name="my_weights.npz")
    x, pred = graph.get("img_input"), graph.get("softmax_output")
    for image, expected in zip(digits()[0][TEST].reshape(-1, 64, 1), saved, strict=True):
        x.set_value(np.asmatrix(image))
        pred.forward()
        np.testing.assert_array_equal(pred.value.A, expected)


@NETWORKS
def test_our_own_saver_round_trip(network, tmp_path):
    """``saver_example.py`` saving with our Saver, and ``load_example.py`` loading it back."""
    saved = train_and_save(network, save_ours, tmp_path)
    trainable = {n.name: n.trainable for n in ms.default_graph.nodes if isinstance(n, ms.core.Variable)}
    _, service = reload(tmp_path)
    assert service == {"inputs": {"name": "img_input"}, "outputs": {"name": "softmax_output"}}
    images = as_input(ms.get_node_from_graph("img_input"), digits()[0][TEST])
    np.testing.assert_array_equal(predict_each(images), saved)
    assert {n.name: n.trainable for n in ms.default_graph.nodes if isinstance(n, ms.core.Variable)} == trainable


def test_the_fixture_writes_the_originals_layout(tmp_path):
    train_and_save(conv_network, save_original, tmp_path)
    model = json.loads((tmp_path / "my_model.json").read_text())
    assert list(model) == ["meta", "service", "graph"]
    assert list(model["meta"]) == ["save_time", "weights_file_name"]
    entries = {entry["name"]: entry for entry in model["graph"]}
    assert list(entries["img_input"]) == ["node_type", "name", "parents", "children", "kargs", "dim"]
    assert entries["img_input"]["dim"] == [8, 8]
    pool = next(entry for entry in model["graph"] if entry["node_type"] == "MaxPooling")
    assert pool["kargs"] == {"size": [3, 3], "stride": [2, 2]} and pool["dim"] == [4, 4]
    relu = next(entry for entry in model["graph"] if entry["node_type"] == "ReLU")
    assert relu["kargs"] == {}
    assert not any(entry["node_type"] == "Accuracy" for entry in model["graph"])
    assert any(child.startswith("Accuracy:") for entry in model["graph"] for child in entry["children"])
    with np.load(tmp_path / "my_weights.npz") as archive:
        variables = [entry["name"] for entry in model["graph"] if entry["node_type"] == "Variable"]
        assert sorted(archive.files) == sorted(variables) and "img_input" in archive.files


# -- the saved model computed with plain NumPy, from the files alone --------------


def numpy_predict(model, weights, image):
    """The output of the service signature for ``image``, computed from the model file's graph with NumPy."""
    entries = {entry["name"]: entry for entry in model["graph"]}
    values = dict(weights, **{model["service"]["inputs"]["name"]: np.asarray(image)})

    def value(name):
        if name not in values:
            entry = entries[name]
            parents = [value(parent) for parent in entry["parents"]]
            values[name] = NUMPY_OPS[entry["node_type"]](*parents, **entry["kargs"])
        return values[name]

    return value(model["service"]["outputs"]["name"])


def convolve(image, kernel):
    """The book's 'same' convolution: the kernel slid over the zero-padded image (not flipped)."""
    kh, kw = kernel.shape
    padded = np.pad(image, ((kh // 2, kh // 2), (kw // 2, kw // 2)))
    rows, cols = image.shape
    return np.array([[np.sum(padded[i : i + kh, j : j + kw] * kernel) for j in range(cols)] for i in range(rows)])


def max_pooling(image, size, stride):
    """The book's pooling: windows centred on every stride-th pixel, clipped at the borders."""
    (kh, kw), (sh, sw) = size, stride
    rows, cols = image.shape
    return np.array(
        [
            [
                image[
                    max(0, i - kh // 2) : min(rows, i + kh // 2 + 1), max(0, j - kw // 2) : min(cols, j + kw // 2 + 1)
                ].max()
                for j in range(0, cols, sw)
            ]
            for i in range(0, rows, sh)
        ]
    )


def softmax(logits):
    exp = np.exp(logits - logits.max())
    return exp / exp.sum()


NUMPY_OPS = {
    "Add": lambda *parents: sum(parents),
    "MatMul": lambda a, b: a @ b,
    "ScalarMultiply": lambda scalar, matrix: scalar[0, 0] * matrix,
    "ReLU": lambda a: np.where(a > 0, a, 0.1 * a),
    "Convolve": convolve,
    "MaxPooling": max_pooling,
    "Concat": lambda *parents: np.concatenate([p.reshape(-1) for p in parents])[:, None],
    "Reshape": lambda a, shape: a.reshape(shape),
    "SoftMax": softmax,
}
