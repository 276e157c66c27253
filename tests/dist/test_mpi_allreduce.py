"""MpiAllReduce under a real ``mpiexec``: exact sums, exact sample counts, the same sums as the gRPC ring.

One ``mpiexec`` run per world size (2 and 3 processes) reduces every case at once and saves each
rank's inputs and results; the checks run here, in the test process, against NumPy sums of the
saved inputs. Integer-valued floats are exactly representable, so every summation order gives
the same bits and the sums can be compared exactly. Every run has a hard timeout after which
the whole ``mpiexec`` session is killed.
"""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from matrixslow.dist.mpirun import MPIEXEC_FLAGS, kill_session, mpiexec_path
from matrixslow.extras import MissingExtraError, install_hint

REPO = Path(__file__).resolve().parents[2]
MPIEXEC_TIMEOUT_SECONDS = 60
SIZES = (0, 1, 17, 17**3, 2**20 + 3)
DTYPES = ("float32", "float64")
BIG_COUNT = 2**53  # a float64 cannot hold 2**53 + 1: the count must travel as an integer

# Run by every rank; argv[1] is the folder for its results, the constants above are prepended.
ALLREDUCE_SCRIPT = """
import sys
import numpy as np
from mpi4py import MPI
from matrixslow.dist.allreduce import MpiAllReduce, RingAllReduce

out_dir = sys.argv[1]
worker = MpiAllReduce()
rank, size = worker.rank, worker.world_size
saved = {"world_size": size, "comm_size": MPI.COMM_WORLD.Get_size()}

for dtype in DTYPES:
    for n in SIZES:
        rng = np.random.default_rng([n, rank])
        key = f"{dtype}_{n}"
        saved["in_" + key] = rng.integers(-1000, 1000, size=n).astype(dtype)
        saved["sum_" + key], saved["count_" + key] = worker.allreduce(saved["in_" + key], BIG_COUNT + rank)
        saved["bytes_" + key] = worker.bytes_sent
    # Non-integer floats: the sums may round, but every rank must get the very same bits.
    rng = np.random.default_rng([99, rank])
    saved["in_normal_" + dtype] = rng.normal(size=(17, 17, 17)).astype(dtype)
    saved["sum_normal_" + dtype], _ = worker.allreduce(saved["in_normal_" + dtype], 1)
    saved["sum_ones_" + dtype], saved["count_ones_" + dtype] = worker.allreduce(np.ones((3, 7), dtype), 2)

# The sum into a given array, and in place (MPI's IN_PLACE).
rng = np.random.default_rng([5, rank])
saved["in_out"] = rng.integers(-1000, 1000, size=(13, 17)).astype("float32")
saved["out"] = np.full((13, 17), np.nan, dtype="float32")
total, _ = worker.allreduce(saved["in_out"], 1, out=saved["out"])
saved["out_is_returned"] = total is saved["out"]
saved["in_place"] = saved["in_out"].copy()
total, _ = worker.allreduce(saved["in_place"], 1, out=saved["in_place"])
saved["in_place_is_returned"] = total is saved["in_place"]

try:
    worker.allreduce(np.array(["not", "numbers"]), 1)  # refused before any communication
except ValueError as error:
    saved["dtype_error"] = str(error)

# The gRPC ring on the same processes, its addresses exchanged through MPI.
ring = RingAllReduce(rank, size, deadline=20)
ring.connect(MPI.COMM_WORLD.allgather(ring.address))
rng = np.random.default_rng([7, rank])
saved["in_compare"] = rng.integers(-1000, 1000, size=17**3 + 2).astype("float64")
saved["in_compare_normal"] = rng.normal(size=17**3 + 2)
for name in ("compare", "compare_normal"):
    saved["ring_" + name], saved["ring_count_" + name] = ring.allreduce(saved["in_" + name], rank + 1)
    saved["mpi_" + name], saved["mpi_count_" + name] = worker.allreduce(saved["in_" + name], rank + 1)
ring.close()
worker.close(wait_for_left=True)  # the keyword the trainer passes to either backend
np.savez(f"{out_dir}/rank{rank}.npz", **saved)
"""


def run_mpiexec(num_processes, script, *args, timeout=MPIEXEC_TIMEOUT_SECONDS, cwd=None):
    """Run ``python script args`` under ``mpiexec -n num_processes``; kill the whole run after ``timeout`` s."""
    command = [mpiexec_path(), *MPIEXEC_FLAGS, "-n", str(num_processes), sys.executable, str(script), *map(str, args)]
    python_path = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=python_path)
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=cwd, env=env, start_new_session=True
    )
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_session(process.pid)
        stdout, stderr = process.communicate(timeout=10)
        pytest.fail(f"mpiexec -n {num_processes} {script} did not finish within {timeout} s\n{stdout}\n{stderr}")
    assert process.returncode == 0, f"mpiexec -n {num_processes} failed:\n{stdout}\n{stderr}"
    return stdout


@pytest.fixture(scope="module", params=[2, 3], ids=["2 ranks", "3 ranks"])
def ranks(request, tmp_path_factory):
    """Every rank's saved inputs and results of one mpiexec run, by rank."""
    out_dir = tmp_path_factory.mktemp(f"mpi{request.param}")
    script = out_dir / "allreduce_cases.py"
    script.write_text(f"SIZES, DTYPES, BIG_COUNT = {SIZES!r}, {DTYPES!r}, {BIG_COUNT!r}\n{ALLREDUCE_SCRIPT}")
    run_mpiexec(request.param, script, out_dir)
    loaded = []
    for rank in range(request.param):
        with np.load(out_dir / f"rank{rank}.npz") as saved:
            loaded.append(dict(saved))
    return loaded


def test_rank_and_world_size_come_from_the_communicator(ranks):
    for saved in ranks:
        assert int(saved["world_size"]) == len(ranks) == int(saved["comm_size"])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("size", SIZES)
def test_every_rank_ends_with_the_exact_sum(ranks, size, dtype):
    key = f"{dtype}_{size}"
    expected = np.sum([saved["in_" + key].astype(np.float64) for saved in ranks], axis=0).astype(dtype)
    assert expected.shape == (size,)
    for rank, saved in enumerate(ranks):
        assert saved["sum_" + key].dtype == np.dtype(dtype), f"rank {rank}"
        assert np.array_equal(saved["sum_" + key], expected), f"rank {rank}"


@pytest.mark.parametrize("size", SIZES)
def test_sample_counts_are_summed_exactly_beyond_float_precision(ranks, size):
    world_size = len(ranks)
    expected = world_size * BIG_COUNT + sum(range(world_size))
    assert float(expected) != expected  # the count would round as a float64
    for saved in ranks:
        assert int(saved[f"count_float32_{size}"]) == expected
        assert int(saved[f"count_float64_{size}"]) == expected


@pytest.mark.parametrize("dtype", DTYPES)
def test_all_ones_sum_to_the_world_size_in_the_buffer_shape(ranks, dtype):
    for saved in ranks:
        assert np.array_equal(saved["sum_ones_" + dtype], np.full((3, 7), len(ranks), dtype))
        assert int(saved["count_ones_" + dtype]) == 2 * len(ranks)


@pytest.mark.parametrize("dtype", DTYPES)
def test_rounded_sums_are_the_same_bits_on_every_rank(ranks, dtype):
    first = ranks[0]["sum_normal_" + dtype]
    assert first.shape == (17, 17, 17) and first.dtype == np.dtype(dtype)
    reference = np.sum([saved["in_normal_" + dtype].astype(np.float64) for saved in ranks], axis=0)
    np.testing.assert_allclose(first, reference, rtol=1e-5 if dtype == "float32" else 1e-12, atol=1e-6)
    for saved in ranks[1:]:
        assert np.array_equal(saved["sum_normal_" + dtype], first)


@pytest.mark.parametrize("dtype", DTYPES)
def test_bytes_sent_is_the_ring_share_of_the_buffer(ranks, dtype):
    world_size = len(ranks)
    itemsize = np.dtype(dtype).itemsize
    for size in SIZES:
        expected = 2 * (world_size - 1) * size * itemsize / world_size
        assert abs(int(ranks[0][f"bytes_{dtype}_{size}"]) - expected) <= 0.5


@pytest.mark.parametrize("name", ["compare", "compare_normal"])
def test_the_grpc_ring_and_mpi_give_the_same_sums(ranks, name):
    if name == "compare_normal" and len(ranks) > 2:
        # Rounded sums of three terms depend on the order, and the ring's order differs from MPI's.
        reference = np.sum([saved["in_" + name] for saved in ranks], axis=0)
        for saved in ranks:
            np.testing.assert_allclose(saved["ring_" + name], reference, rtol=1e-12, atol=1e-12)
            np.testing.assert_allclose(saved["mpi_" + name], reference, rtol=1e-12, atol=1e-12)
        return
    # Integer-valued sums, and any float sum of two terms, do not depend on the order: the bits must agree.
    expected_count = sum(range(1, len(ranks) + 1))
    for saved in ranks:
        assert np.array_equal(saved["ring_" + name], saved["mpi_" + name])
        assert int(saved["ring_count_" + name]) == int(saved["mpi_count_" + name]) == expected_count
    assert np.array_equal(ranks[0]["mpi_" + name], np.sum([saved["in_" + name] for saved in ranks], axis=0))


def test_a_buffer_that_is_not_numbers_is_refused_naming_rank_and_dtype(ranks):
    for rank, saved in enumerate(ranks):
        message = str(saved.get("dtype_error", "no ValueError was raised"))
        assert f"rank {rank}" in message and "dtype str" in message, message


def test_a_missing_mpi4py_names_the_extra_to_install(monkeypatch):
    from matrixslow.dist.allreduce import MpiAllReduce

    monkeypatch.setitem(sys.modules, "mpi4py", None)  # makes `from mpi4py import MPI` raise ImportError
    with pytest.raises(MissingExtraError, match="from the optional 'mpi' extra") as raised:
        MpiAllReduce()
    assert install_hint("mpi") in str(raised.value) and raised.value.package == "mpi4py"


def test_importing_the_allreduce_package_does_not_start_mpi():
    code = "import sys, matrixslow.dist.allreduce as a; assert a.MpiAllReduce; print('mpi4py' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=REPO)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_the_sum_goes_into_out_or_in_place(ranks):
    expected = np.sum([saved["in_out"] for saved in ranks], axis=0)
    for rank, saved in enumerate(ranks):
        assert saved["out_is_returned"] and saved["in_place_is_returned"], f"rank {rank}"
        assert np.array_equal(saved["out"], expected), f"rank {rank}"
        assert np.array_equal(saved["in_place"], expected), f"rank {rank}"
