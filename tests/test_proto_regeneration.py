"""The committed generated code of every proto folder is exactly what protoc makes from its .proto files."""

import pytest

from tests.protos import FOLDERS, REPO_ROOT, generate

REGENERATE = "python -m tests.protos"


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda folder: folder.folder)
def test_committed_code_matches_a_fresh_protoc_run(folder, tmp_path):
    assert folder.protos(), f"{folder.folder} has no .proto files"
    fresh = generate(folder, tmp_path)
    fresh_names = sorted(path.name for path in fresh.iterdir())
    assert fresh_names == folder.committed(), f"{folder.folder}: regenerate with `{REGENERATE}`"
    for name in fresh_names:
        committed = REPO_ROOT / folder.folder / name
        assert (fresh / name).read_bytes() == committed.read_bytes(), (
            f"{folder.folder}/{name} is stale; regenerate with `{REGENERATE}`"
        )


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda folder: folder.folder)
def test_every_proto_says_how_to_regenerate_it(folder):
    for name in folder.protos():
        assert REGENERATE in (REPO_ROOT / folder.folder / name).read_text(), f"{folder.folder}/{name}"
