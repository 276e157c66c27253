"""Chapter 11: the book's ``ps_example.py`` and ``allreduce_example.py`` run as the book runs them.

One process per role, as the book starts them from a shell: the parameter server
(``--role ps``, blocking in ``serve()`` until Ctrl-C) and two workers (``--worker_index``),
each training ``tests/book/ch11_programs.py``'s network on its own shard of the digits into
its own ``ms.default_graph``, from its own random start, and exporting it as the book does.
Synchronous training must leave every worker with the very same weights (worker 0's start
reaches everyone, then every step applies the same global mean), and those weights must have
learned: the book's evaluation lines climb, and the exported model classifies the digits of
both shards. The book's names are checked too: ``matrixslow.dist.ps.ps.ParameterServiceServer``
binding the address of ``cluster_conf``, and ``matrixslow.trainer``'s distributed trainers.
"""

import json
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import matrixslow as ms
from matrixslow.dist.launch import free_loopback_addresses
from tests.book import ch11_programs

REPO = Path(__file__).resolve().parents[2]
WAIT_SECONDS = 60
WORKERS = 2


class Cluster:
    """The book's processes of one example, their output in files; every one is ended on exit."""

    def __init__(self, program, cluster_conf, directory):
        self.program = program
        self.cluster_conf = cluster_conf
        self.directory = Path(directory)
        self.export_dir = self.directory / "export"
        self.processes = {}

    def start(self, name, *args):
        command = [sys.executable, "-m", "tests.book.ch11_programs", self.program, *args]
        command += ["--cluster_conf", json.dumps(self.cluster_conf), "--export_dir", str(self.export_dir)]
        with open(self.directory / f"{name}.log", "wb") as log:
            self.processes[name] = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=REPO)

    def start_workers(self):
        for index in range(WORKERS):
            self.start(f"worker{index}", "--worker_index", str(index))

    def wait_for_workers(self):
        for index in range(WORKERS):
            name = f"worker{index}"
            try:
                code = self.processes[name].wait(WAIT_SECONDS)
            except subprocess.TimeoutExpired:
                raise AssertionError(f"{name} did not finish in {WAIT_SECONDS} s: {self.log(name)}") from None
            assert code == 0, f"{name} exited with {code}: {self.log(name)}"

    def wait_for_line(self, name, text):
        give_up_at = time.monotonic() + WAIT_SECONDS
        while text not in self.log(name):
            assert self.processes[name].poll() is None, f"{name} ended: {self.log(name)}"
            assert time.monotonic() < give_up_at, f"{name} printed no {text!r} in {WAIT_SECONDS} s: {self.log(name)}"
            time.sleep(0.02)

    def log(self, name):
        return (self.directory / f"{name}.log").read_text(errors="replace")

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        for process in self.processes.values():
            if process.poll() is None:
                process.kill()
                process.wait(WAIT_SECONDS)


def cluster_conf(with_ps):
    addresses = free_loopback_addresses(WORKERS + with_ps)
    conf = {"workers": addresses[with_ps:]}
    if with_ps:
        conf["ps"] = addresses[:1]
    return conf


def evaluation_accuracies(log):
    """The accuracies of the book's ``Epoch [n] evaluation metrics Accuracy: x`` lines, in order."""
    return [float(value) for value in re.findall(r"Epoch \[\d+\] evaluation metrics Accuracy: ([0-9.]+)", log)]


def exported_weights(export_dir, worker_index):
    with np.load(Path(export_dir) / str(worker_index) / "my_weights.npz") as archive:
        return {name: archive[name] for name in archive.files}


def exported_accuracy(export_dir, worker_index):
    """Worker ``worker_index``'s exported model on every worker's shard, loaded the book's way."""
    ms.default_graph.nodes.clear()
    saver = ms.trainer.Saver(Path(export_dir) / str(worker_index))
    saver.load(model_file_name="my_model.json", weights_file_name="my_weights.npz")
    x = ms.get_node_from_graph("img_input")
    pred = ms.get_node_from_graph("softmax_output")
    correct = total = 0
    for index in range(WORKERS):
        images, labels = ch11_programs.shard(index)
        for image, label in zip(images, labels, strict=True):
            x.set_value(np.asmatrix(image))
            pred.forward()
            correct += int(np.argmax(pred.value) == np.argmax(label))
            total += 1
    return correct / total


def assert_the_workers_agree_and_learned(cluster):
    weights = [exported_weights(cluster.export_dir, index) for index in range(WORKERS)]
    assert weights[0] and set(weights[0]) == set(weights[1])
    for name, value in weights[0].items():
        np.testing.assert_array_equal(weights[1][name], value, err_msg=name)
    for index in range(WORKERS):
        accuracies = evaluation_accuracies(cluster.log(f"worker{index}"))
        assert len(accuracies) == ch11_programs.EPOCHES, cluster.log(f"worker{index}")
        assert accuracies[0] < 0.3 and max(accuracies[-3:]) >= 0.7, accuracies  # chance is 0.1
    accuracy = exported_accuracy(cluster.export_dir, 0)
    assert accuracy >= 0.7, accuracy


def test_ps_example_trains_both_workers_to_the_same_weights(tmp_path):
    with Cluster("ps_example", cluster_conf(with_ps=True), tmp_path) as cluster:
        cluster.start("ps", "--role", "ps")
        cluster.wait_for_line("ps", "[PS] Parameter server")  # as the book's reader starts the workers after it
        cluster.start_workers()
        cluster.wait_for_workers()
        server = cluster.processes["ps"]
        assert server.poll() is None, f"the parameter server stopped by itself: {cluster.log('ps')}"
        server.send_signal(signal.SIGINT)  # the book's way to stop it: Ctrl-C
        assert server.wait(WAIT_SECONDS) == 0, cluster.log("ps")
    address = cluster.cluster_conf["ps"][0]
    assert f"[PS] Parameter server (mode: Sync) running on {address} and worker num 2" in cluster.log("ps")
    assert_the_workers_agree_and_learned(cluster)


def test_allreduce_example_trains_both_workers_to_the_same_weights(tmp_path):
    with Cluster("allreduce_example", cluster_conf(with_ps=False), tmp_path) as cluster:
        cluster.start_workers()
        cluster.wait_for_workers()  # the book never calls close(): each worker still exits once done
    assert_the_workers_agree_and_learned(cluster)


# -- the book's names ------------------------------------------------------------------


def test_parameter_service_server_binds_its_cluster_conf_address_and_serve_blocks_until_stop():
    from matrixslow.dist.ps import ps

    conf = cluster_conf(with_ps=True)
    server = ps.ParameterServiceServer(conf, sync=True, max_workers=4)
    serving = threading.Thread(target=server.serve, daemon=True)
    serving.start()
    host, port = conf["ps"][0].rsplit(":", 1)
    try:
        give_up_at = time.monotonic() + WAIT_SECONDS
        while True:  # serve() binds in its thread: wait until it listens
            try:
                with socket.create_connection((host, int(port)), timeout=1):
                    break
            except ConnectionRefusedError:
                assert serving.is_alive() and time.monotonic() < give_up_at, "the server never listened"
                time.sleep(0.05)
        assert serving.is_alive()  # serve() blocks, as in the book
        assert server.state.num_workers == WORKERS
    finally:
        server.stop()
        serving.join(WAIT_SECONDS)
    assert not serving.is_alive()
    server.stop()  # twice is harmless


def test_parameter_service_server_names_what_it_cannot_do():
    from matrixslow.dist.ps import ps

    conf = cluster_conf(with_ps=True)
    with pytest.raises(ValueError, match="sync=False"):
        ps.ParameterServiceServer(conf, sync=False)
    with pytest.raises(ValueError, match=r"ps_index 1 is outside cluster_conf\['ps'\]"):
        ps.ParameterServiceServer(conf, ps_index=1)
    with pytest.raises(ValueError, match="non-empty list 'ps'"):
        ps.ParameterServiceServer({"workers": conf["workers"]})


def test_the_distributed_trainers_are_where_the_book_imports_them():
    from matrixslow.dist import trainers
    from matrixslow.trainer import DistTrainerParameterServer, DistTrainerRingAllReduce

    assert DistTrainerParameterServer is trainers.DistTrainerParameterServer
    assert DistTrainerRingAllReduce is ms.trainer.DistTrainerRingAllReduce is trainers.DistTrainerRingAllReduce
    with pytest.raises(AttributeError, match="DistTrainerNothing"):
        ms.trainer.DistTrainerNothing  # noqa: B018


def test_importing_matrixslow_trainer_still_needs_no_grpc():
    probe = (
        "import sys, matrixslow.trainer\n"
        "from matrixslow.trainer import *\n"
        "print(sorted(m for m in sys.modules if m.startswith(('matrixslow.dist', 'grpc'))))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, cwd=REPO)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
