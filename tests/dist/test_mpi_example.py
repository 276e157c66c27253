"""examples/distributed/mpi_cnn.py under ``mpiexec -n 2``: both ranks end with the same weights.

The ranks draw different initial weights on purpose, so equal checksums mean the trainer synced
rank 0's start and then applied the same updates; a longer run changes the checksum, so they
are not equal by accident. Every run has a hard timeout (see ``run_mpiexec``).
"""

import re
from pathlib import Path

from .test_mpi_allreduce import run_mpiexec

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "distributed" / "mpi_cnn.py"
TINY = ("--samples", 48, "--batch-size", 16, "--kernels", 4)


def checksums(stdout):
    """``{rank: weights sha256}`` from the example's output."""
    found = re.findall(r"^rank (\d+) of 2: weights sha256 ([0-9a-f]{64})$", stdout, flags=re.MULTILINE)
    return {int(rank): digest for rank, digest in found}


def test_both_ranks_train_the_cnn_to_the_same_weights(tmp_path):
    short = run_mpiexec(2, EXAMPLE, "--epochs", 1, *TINY, cwd=tmp_path)
    longer = run_mpiexec(2, EXAMPLE, "--epochs", 2, *TINY, cwd=tmp_path)
    for stdout in (short, longer):
        for rank in (0, 1):
            assert f"rank {rank} of 2: 48 training samples" in stdout, stdout
        digests = checksums(stdout)
        assert sorted(digests) == [0, 1], stdout
        assert digests[0] == digests[1], stdout
        accuracy = re.findall(r"^test accuracy: (\d\.\d{4})$", stdout, flags=re.MULTILINE)
        assert len(accuracy) == 1 and 0.0 <= float(accuracy[0]) <= 1.0, stdout  # rank 0 only
    assert checksums(short)[0] != checksums(longer)[0]


def test_the_full_example_learns_the_digits(tmp_path):
    stdout = run_mpiexec(2, EXAMPLE, "--epochs", 3, cwd=tmp_path)
    (accuracy,) = re.findall(r"^test accuracy: (\d\.\d{4})$", stdout, flags=re.MULTILINE)
    assert float(accuracy) > 0.8, stdout  # ten classes: chance is 0.1
