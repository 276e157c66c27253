"""Whatever is in a model directory, loading it either works or raises ModelFileError: nothing else escapes.

Hypothesis damages a good directory (ours, and one of the original MatrixSlow):
random bytes, truncations and bit flips of either file, and random JSON (deep
nesting, wrong types) put at every field of the model file. A load that works is
possible only where the damage left a valid model (a flipped letter of the meta
data, a weights file's timestamp with its sha256 recorded anew).
"""

import contextlib
import hashlib
import io
import json
import pickle
import shutil
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import matrixslow as ms
from matrixslow.trainer import ModelFileError, Saver

from .model_files import save_good_model
from .test_original_format import classifier, write

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _good_directories():
    root = Path(tempfile.mkdtemp(prefix="model-fuzz-"))
    save_good_model(root / "ours")
    (root / "original").mkdir()
    write(root / "original", *classifier())
    return {name: (root / name / "model.json").read_bytes() for name in ("ours", "original")}, {
        name: (root / name / "weights.npz").read_bytes() for name in ("ours", "original")
    }


GOOD_MODEL, GOOD_WEIGHTS = _good_directories()
KINDS = sorted(GOOD_MODEL)


@contextlib.contextmanager
def directory_with(model_bytes, weights_bytes):
    directory = Path(tempfile.mkdtemp(prefix="model-fuzz-"))
    try:
        (directory / "model.json").write_bytes(model_bytes)
        (directory / "weights.npz").write_bytes(weights_bytes)
        yield directory
    finally:
        shutil.rmtree(directory)


def loads(model_bytes, weights_bytes):
    """True if the directory loads, False for a ModelFileError; anything else fails the test."""
    with directory_with(model_bytes, weights_bytes) as directory:
        try:
            Saver(directory).load(ms.core.Graph())
        except ModelFileError:
            return False
    return True


def flipped(data, flips):
    data = bytearray(data)
    for position, bit in flips:
        data[position % len(data)] ^= 1 << bit
    return bytes(data)


def with_sha256_of(model_bytes, weights_bytes):
    """``model_bytes`` recording the sha256 of ``weights_bytes`` (if it is a model file of ours)."""
    model = json.loads(model_bytes)
    if "weights_sha256" in model:
        model["weights_sha256"] = hashlib.sha256(weights_bytes).hexdigest()
    return json.dumps(model).encode()


FLIPS = st.lists(st.tuples(st.integers(min_value=0), st.integers(0, 7)), min_size=1, max_size=8)


def test_the_good_directories_load():
    for kind in KINDS:
        assert loads(GOOD_MODEL[kind], GOOD_WEIGHTS[kind])


# -- bytes --------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
@FUZZ
@given(data=st.binary(max_size=2000))
def test_random_bytes_for_a_file_are_a_model_file_error(kind, data):
    assert not loads(data, GOOD_WEIGHTS[kind])
    # Our model file checks the weights' sha256; the original's may take random bytes only as no archive.
    assert not loads(GOOD_MODEL[kind], data)


@pytest.mark.parametrize("kind", KINDS)
@FUZZ
@given(fraction=st.floats(0.0, 1.0, exclude_max=True))
def test_a_truncated_file_is_a_model_file_error(kind, fraction):
    model, weights = GOOD_MODEL[kind], GOOD_WEIGHTS[kind]
    assert not loads(model[: int(len(model) * fraction)], weights)
    cut = weights[: int(len(weights) * fraction)]
    assert not loads(with_sha256_of(model, cut), cut)


@pytest.mark.parametrize("kind", KINDS)
@FUZZ
@given(flips=FLIPS)
def test_bit_flips_load_or_are_a_model_file_error(kind, flips):
    model, weights = GOOD_MODEL[kind], GOOD_WEIGHTS[kind]
    loads(flipped(model, flips), weights)
    damaged = flipped(weights, flips)
    if kind == "ours" and damaged != weights:  # two flips of one bit undo each other
        assert not loads(model, damaged)  # the recorded sha256 no longer matches
    loads(with_sha256_of(model, damaged), damaged)


# -- JSON structure -------------------------------------------------------------------------

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


def field_paths(value, path=()):
    """Every path (a tuple of keys and indices) to a value inside the parsed JSON ``value``."""
    yield path
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        yield from field_paths(item, (*path, key))


PATHS = {kind: list(field_paths(json.loads(GOOD_MODEL[kind]))) for kind in KINDS}


def replaced(model_bytes, path, value):
    model = json.loads(model_bytes)
    if not path:
        return json.dumps(value).encode()
    parent = model
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = value
    return json.dumps(model).encode()


@pytest.mark.parametrize("kind", KINDS)
@FUZZ
@given(data=st.data(), value=JSON_VALUES)
def test_any_json_at_any_field_loads_or_is_a_model_file_error(kind, data, value):
    path = data.draw(st.sampled_from(PATHS[kind]))
    loads(replaced(GOOD_MODEL[kind], path, value), GOOD_WEIGHTS[kind])


@pytest.mark.parametrize("kind", KINDS)
@FUZZ
@given(data=st.data(), depth=st.integers(1, 200_000), opener=st.sampled_from(["[", '{"a":']))
def test_deep_nesting_at_any_field_loads_or_is_a_model_file_error(kind, data, depth, opener):
    path = data.draw(st.sampled_from(PATHS[kind]))
    closer = "]" if opener == "[" else "}"
    text = replaced(GOOD_MODEL[kind], path, "HOLE").decode()
    nested = opener * depth + "1" + closer * depth
    loads(text.replace('"HOLE"', nested, 1).encode(), GOOD_WEIGHTS[kind])


FIELD_NAMES = st.sampled_from(
    ["format_version", "dtype", "meta", "service", "weights_sha256", "graph", "node_type", "name", "parents"]
    + ["kargs", "dim", "trainable", "has_saved_value", "children", "nslope", "shape", "size", "stride", "need_save"]
)


def dict_paths(kind):
    model = json.loads(GOOD_MODEL[kind])
    paths = []
    for path in PATHS[kind]:
        value = model
        for key in path:
            value = value[key]
        if isinstance(value, dict):
            paths.append(path)
    return paths


DICT_PATHS = {kind: dict_paths(kind) for kind in KINDS}


@pytest.mark.parametrize("kind", KINDS)
@FUZZ
@given(data=st.data(), field=FIELD_NAMES, value=JSON_VALUES)
def test_any_field_added_to_any_object_loads_or_is_a_model_file_error(kind, data, field, value):
    path = data.draw(st.sampled_from(DICT_PATHS[kind]))
    model = json.loads(GOOD_MODEL[kind])
    target = model
    for key in path:
        target = target[key]
    target[field] = value
    loads(json.dumps(model).encode(), GOOD_WEIGHTS[kind])


def npy(array):
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array, allow_pickle=True)
    return buffer.getvalue()


MEMBER_CONTENTS = st.one_of(
    st.binary(max_size=64),
    st.builds(pickle.dumps, JSON_VALUES),
    st.builds(
        lambda shape, dtype: npy(np.zeros(shape, dtype=dtype)),
        st.lists(st.integers(0, 5), max_size=3).map(tuple),
        st.sampled_from(["f8", "f4", "i8", "u1", "c16", "O", "S3"]),
    ),
    st.builds(lambda data, cut: data[:cut], st.builds(npy, st.just(np.ones((3, 4)))), st.integers(0, 200)),
)


def archive_of(members, compressed):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED if compressed else zipfile.ZIP_STORED) as archive:
        for name, content in members:
            archive.writestr(name, content)
    return buffer.getvalue()


def good_members(kind):
    with zipfile.ZipFile(io.BytesIO(GOOD_WEIGHTS[kind])) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


GOOD_MEMBERS = {kind: good_members(kind) for kind in KINDS}


def members_of(kind):
    """Each good member kept or replaced, and perhaps one more: so that a bad member is often the only one."""
    kept_or_not = {name: st.one_of(st.just(data), MEMBER_CONTENTS) for name, data in GOOD_MEMBERS[kind].items()}
    extra = st.lists(st.tuples(st.sampled_from(["other.npy", "other"]), MEMBER_CONTENTS), max_size=1)
    return st.builds(lambda members, more: [*members.items(), *more], st.fixed_dictionaries(kept_or_not), extra)


@pytest.mark.parametrize("kind", KINDS)
@FUZZ
@given(data=st.data(), compressed=st.booleans())
def test_any_members_in_the_weights_file_load_or_are_a_model_file_error(kind, data, compressed):
    weights = archive_of(data.draw(members_of(kind)), compressed)
    loads(with_sha256_of(GOOD_MODEL[kind], weights), weights)
