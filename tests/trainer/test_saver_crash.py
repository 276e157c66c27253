"""A save killed at any point leaves the previous model or the new one loadable; later saves and loads tidy up.

A dry run records every filesystem call a save makes (``FILESYSTEM_CALLS`` of
``os``), so the tests follow the implementation as it changes. Then, for every call
N, a save runs in a forked process that ``os._exit``s just before call N: no
exception, no rollback, as if the process were killed there. Afterwards the
directory must load the previous model or the new one, compared weight by weight.
"""

import contextlib
import itertools
import os
import shutil
import traceback

import numpy as np
import pytest

import matrixslow as ms
from matrixslow.core import Variable
from matrixslow.ops import Add, MatMul
from matrixslow.trainer import ModelFileError, Saver, atomic_files
from tests.trainer.test_original_format import classifier, write

# The calls of ``os`` that create, change, sync, rename or delete files, or list a directory.
FILESYSTEM_CALLS = ("mkdir", "scandir", "open", "fsync", "link", "replace", "rename", "unlink")
CRASHED = 70  # the exit status of a child that died where it was told to
SAVED = ("w", "b")  # the Variables whose values tell the models apart

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="kills the save in a forked process")


@contextlib.contextmanager
def before_each_filesystem_call(hook):
    """Run ``hook(number, name, args)`` before each call of ``FILESYSTEM_CALLS``, numbered from 1."""
    numbers = itertools.count(1)
    originals = {name: getattr(os, name) for name in FILESYSTEM_CALLS}

    def counted(name, call):
        def run(*args, **kwargs):
            hook(next(numbers), name, args)
            return call(*args, **kwargs)

        return run

    for name, call in originals.items():
        setattr(os, name, counted(name, call))
    try:
        yield
    finally:
        for name, call in originals.items():
            setattr(os, name, call)


def new_graph():
    """The model every save writes: Variables w and b, with the dims of the original's classifier."""
    rng = np.random.default_rng(5)
    with ms.core.Graph() as graph:
        x = Variable((3, 1), init=False, trainable=False, name="x")
        w, b = Variable((2, 3), name="w"), Variable((2, 1), name="b")
        w.set_value(rng.normal(size=(2, 3)))
        b.set_value(rng.normal(size=(2, 1)))
        Add(MatMul(w, x), b, name="out")
    return graph


def values_of(graph):
    return {name: graph.get(name).value.copy() for name in SAVED}


def our_model(directory):
    graph = new_graph()
    for name in SAVED:
        graph.get(name).set_value(graph.get(name).value - 1.0)
    Saver(directory).save(graph)
    return values_of(graph)


def original_model(directory):
    directory.mkdir()
    original, weights = classifier()
    write(directory, original, weights)
    return {name: weights[name] for name in SAVED}


def no_model(directory):
    directory.mkdir()
    return None


# What the directory holds before the save: writes it, and returns the values it loads (None: nothing loads).
PREVIOUS = {"our model": our_model, "an original MatrixSlow model": original_model, "no model": no_model}


def copy_of(template, directory):
    shutil.copytree(template, directory)
    return directory


def which_model(directory, previous, new):
    """ "previous" or "new": which of the two ``directory`` loads; anything else fails the test."""
    graph = ms.core.Graph()
    try:
        Saver(directory).load(graph)
    except ModelFileError as error:
        if previous is None and "no such model file" in str(error):
            return "previous"  # there was no model before, and there still is none
        raise
    loaded = values_of(graph)
    for label, expected in (("previous", previous), ("new", new)):
        if expected is not None and all(np.array_equal(loaded[name], expected[name]) for name in SAVED):
            return label
    raise AssertionError(f"{directory} loads neither the previous model nor the new one: {loaded}")


def recorded_calls(directory, graph):
    calls = []
    with before_each_filesystem_call(lambda number, name, args: calls.append(f"os.{name}{args}")):
        Saver(directory).save(graph)
    return calls


def save_killed_before_call(directory, graph, number):
    """Save in a forked process that ``os._exit``s just before filesystem call ``number``; its exit status."""
    pid = os.fork()
    if pid == 0:  # the child: it must never return into pytest
        status = 1
        try:

            def die(reached, name, args):
                if reached == number:
                    os._exit(CRASHED)

            with before_each_filesystem_call(die):
                Saver(directory).save(graph)
            status = 0
        except BaseException:
            traceback.print_exc()
        finally:
            os._exit(status)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def refuse_hard_links(monkeypatch):
    def link(source, destination):
        raise OSError(f"this file system has no hard links ({destination})")

    monkeypatch.setattr(os, "link", link)


@pytest.fixture(params=["hard links", "no hard links"])
def file_system(request, monkeypatch):
    if request.param == "no hard links":
        refuse_hard_links(monkeypatch)


@pytest.mark.usefixtures("file_system")
@pytest.mark.parametrize("previous_model", sorted(PREVIOUS))
def test_a_save_killed_before_any_filesystem_call_leaves_the_previous_model_or_the_new_one(
    tmp_path, monkeypatch, previous_model
):
    template = tmp_path / "template"
    previous = PREVIOUS[previous_model](template)
    graph = new_graph()
    new = values_of(graph)
    calls = recorded_calls(copy_of(template, tmp_path / "dry-run"), graph)

    outcomes = []
    for number in range(1, len(calls) + 2):  # the last one dies after every call: the save is complete
        directory = copy_of(template, tmp_path / f"killed-{number}")
        where = f"killed before call {number} of {len(calls)}: {calls[number - 1] if number <= len(calls) else 'none'}"
        assert save_killed_before_call(directory, graph, number) == (CRASHED if number <= len(calls) else 0), where
        outcomes.append(which_model(directory, previous, new))

        # What the killed save left behind goes with the next save, once old enough.
        with monkeypatch.context() as aged:
            aged.setattr(atomic_files, "STALE_AFTER_SECONDS", 0)
            Saver(directory).save(graph)
        assert sorted(os.listdir(directory)) == ["model.json", "weights.npz"], where
        assert which_model(directory, previous, new) == "new", where

    # Once the new model has loaded, every later point of death loads it too.
    committed = outcomes.index("new")
    killed_before = [*calls, "none (the save finished)"]
    expected = ["previous"] * committed + ["new"] * (len(outcomes) - committed)
    assert outcomes == expected, list(zip(killed_before, outcomes, strict=True))
    assert committed > 0  # killed before it wrote anything, the save changed nothing


@pytest.mark.usefixtures("file_system")
@pytest.mark.parametrize("previous_model", sorted(PREVIOUS))
def test_an_error_at_any_filesystem_call_is_rolled_back_to_the_previous_model(tmp_path, previous_model):
    template = tmp_path / "template"
    previous = PREVIOUS[previous_model](template)
    graph = new_graph()
    new = values_of(graph)
    calls = recorded_calls(copy_of(template, tmp_path / "dry-run"), graph)
    before = {path.name: path.read_bytes() for path in template.iterdir()}

    failed = 0
    for number, call in enumerate(calls, start=1):
        directory = copy_of(template, tmp_path / f"failed-{number}")

        def fail(reached, name, args, number=number):
            if reached == number:
                raise OSError(f"injected failure of os.{name}")

        try:
            with before_each_filesystem_call(fail):
                Saver(directory).save(graph)
        except OSError:
            failed += 1
            # The rollback ran: the directory is as it was, byte for byte, and holds nothing else.
            assert {path.name: path.read_bytes() for path in directory.iterdir()} == before, call
            assert which_model(directory, previous, new) == "previous", call
        else:  # the failure was one the save can do without (a directory sync, a hard link, a cleanup)
            assert which_model(directory, previous, new) == "new", call
    assert failed > 0


# -- what killed saves leave behind ---------------------------------------------------------------

# Names of the Saver's scheme: temporaries of both files, and kept weights no model file needs.
STALE = [".weights.npz.0123456789ab.tmp", ".model.json.ba9876543210.tmp", ".weights.npz.0123456789abcdef.prev"]
# Names outside it, which stay.
UNRELATED = [
    "notes.txt",
    ".weights.npz.tmp",
    "weights.npz.0123456789ab.tmp",
    ".optimizer.npz.0123456789ab.tmp",
    ".model.json.0123456789abcdef.prev",
    ".weights.npz.0123456789abcdef.prev.bak",
]


def leave_behind(directory, names):
    for name in names:
        (directory / name).write_bytes(b"left by a killed save")


@pytest.mark.parametrize("action", ["save", "load"])
def test_the_next_save_or_load_removes_what_killed_saves_left(tmp_path, monkeypatch, action):
    graph = new_graph()
    Saver(tmp_path).save(graph)
    leave_behind(tmp_path, STALE + UNRELATED)
    monkeypatch.setattr(atomic_files, "STALE_AFTER_SECONDS", 0)
    if action == "save":
        Saver(tmp_path).save(graph)
    else:
        Saver(tmp_path).load(ms.core.Graph())
    assert sorted(os.listdir(tmp_path)) == sorted(["model.json", "weights.npz", *UNRELATED])


def test_files_changed_recently_stay_they_may_belong_to_a_save_still_running(tmp_path):
    graph = new_graph()
    Saver(tmp_path).save(graph)
    leave_behind(tmp_path, STALE)
    Saver(tmp_path).save(graph)
    Saver(tmp_path).load(ms.core.Graph())
    assert sorted(os.listdir(tmp_path)) == sorted(["model.json", "weights.npz", *STALE])


def test_the_kept_weights_the_model_file_needs_survive_a_load(tmp_path, monkeypatch):
    previous = our_model(tmp_path / "model")
    directory, weights = tmp_path / "model", tmp_path / "model" / "weights.npz"
    # The state a save killed between its two renames leaves: the new weights, the previous model file.
    kept = atomic_files.kept_path(weights, (directory / "model.json").read_bytes())
    os.link(weights, kept)
    graph = new_graph()
    Saver(tmp_path / "new").save(graph)
    os.replace(tmp_path / "new" / "weights.npz", weights)
    monkeypatch.setattr(atomic_files, "STALE_AFTER_SECONDS", 0)

    assert which_model(directory, previous, values_of(graph)) == "previous"
    assert kept.exists()
    Saver(directory).save(graph)
    assert sorted(os.listdir(directory)) == ["model.json", "weights.npz"]
    assert which_model(directory, previous, values_of(graph)) == "new"
