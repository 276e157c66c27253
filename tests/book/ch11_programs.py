"""Chapter 11's ``ps_example.py`` and ``allreduce_example.py``, written as the book writes them.

Each process of the book's cluster runs one of these: the parameter server
(``--role ps``) or a worker (``--worker_index i``), which trains the book's network on
its own shard into ``ms.default_graph`` and exports it as the book does. The book's
cluster_conf names fixed ports; tests/book/test_ch11_distributed.py passes free ones
(``--cluster_conf``) and a directory for the exports (``--export_dir``). The data are
scikit-learn's bundled 8x8 digits instead of MNIST, the network shrunk to fit::

    python -m tests.book.ch11_programs ps_example --role ps --cluster_conf '{"ps": [...], "workers": [...]}'
"""

import argparse
import json

import numpy as np
from sklearn.datasets import load_digits
from sklearn.preprocessing import OneHotEncoder

import matrixslow as ms
from matrixslow.dist.ps import ps
from matrixslow.trainer import DistTrainerParameterServer, DistTrainerRingAllReduce
from matrixslow_serving.exporter import Exporter

img_shape = (8, 8)
SHARD = 150  # samples per worker
EPOCHES = 10


def shard(worker_index):
    """Worker ``worker_index``'s images in [0, 1] and one-hot labels, as the book slices MNIST per worker."""
    X, y = load_digits(return_X_y=True)
    start = worker_index * SHARD
    end = (worker_index + 1) * SHARD
    X, y = X[start:end] / 16, y.astype(int)[start:end]  # the book's y.astype(np.int), removed in NumPy 2
    X = np.reshape(np.array(X), (SHARD, *img_shape))
    oh = OneHotEncoder(sparse_output=False)  # the book's OneHotEncoder(sparse=False), renamed in scikit-learn 1.2
    one_hot_label = oh.fit_transform(y.reshape(-1, 1))
    return X, one_hot_label


def train(trainer_class, cluster_conf, worker_index, export_dir):
    """The book's ``train(worker_index)``: the network, the distributed trainer, the export."""
    X, one_hot_label = shard(worker_index)

    x = ms.core.Variable(img_shape, init=False, trainable=False, name="img_input")
    one_hot = ms.core.Variable(dim=(10, 1), init=False, trainable=False)
    conv1 = ms.layer.conv([x], img_shape, 3, (3, 3), "ReLU")
    pooling1 = ms.layer.pooling(conv1, (3, 3), (2, 2))
    fc1 = ms.layer.fc(ms.ops.Concat(*pooling1), 48, 32, "ReLU")
    output = ms.layer.fc(fc1, 32, 10, "None")
    ms.ops.SoftMax(output, name="softmax_output")
    loss = ms.ops.loss.CrossEntropyWithSoftMax(output, one_hot)
    learning_rate = 0.05
    optimizer = ms.optimizer.RMSProp(ms.default_graph, loss, learning_rate)
    accuracy = ms.ops.metrics.Accuracy(output, one_hot)

    trainer = trainer_class(
        [x], one_hot, loss, optimizer,
        epoches=EPOCHES, batch_size=16,
        eval_on_train=True, metrics_ops=[accuracy],
        cluster_conf=cluster_conf, worker_index=worker_index,
    )  # fmt: skip
    trainer.train_and_eval({x.name: X}, one_hot_label, {x.name: X}, one_hot_label)

    exporter = Exporter()
    sig = exporter.signature("img_input", "softmax_output")
    saver = ms.trainer.Saver(f"{export_dir}/{worker_index}")
    saver.save(model_file_name="my_model.json", weights_file_name="my_weights.npz", service_signature=sig)


def ps_example(args, cluster_conf):
    # The parameter server waits for the workers; a worker trains its shard.
    if args.role == "ps":
        server = ps.ParameterServiceServer(cluster_conf, sync=True)
        server.serve()
    else:
        train(DistTrainerParameterServer, cluster_conf, args.worker_index, args.export_dir)


def allreduce_example(args, cluster_conf):
    train(DistTrainerRingAllReduce, cluster_conf, args.worker_index, args.export_dir)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("program", choices=["ps_example", "allreduce_example"])
    parser.add_argument("--role", type=str)
    parser.add_argument("--worker_index", type=int)
    parser.add_argument("--cluster_conf", type=json.loads, required=True)
    parser.add_argument("--export_dir", type=str, default="./export")
    args = parser.parse_args()
    np.random.seed(args.worker_index or 0)  # the workers start from different weights: worker 0's must reach all
    {"ps_example": ps_example, "allreduce_example": allreduce_example}[args.program](args, args.cluster_conf)
