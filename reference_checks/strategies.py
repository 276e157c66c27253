"""Hypothesis strategies for property-based gradient checks: random shapes, batch sizes and values.

Each strategy draws an ``Example``: the parents an operator gets (their
per-sample shapes, whether each is a batch or one matrix shared by the batch,
and how its values are filled), the batch size, a seed for NumPy's generator
and any operator settings. Values come from the seeded generator rather than
from hypothesis itself: drawing every float would be slow and would shrink
towards the kinks (0 for ReLU, ties for MaxPooling) we want to stay away from.

Sizes stay small (sides 1..5, batches 1..4) so that finite differences over
every element stay cheap.
"""

from dataclasses import dataclass, field

from hypothesis import strategies as st

from reference_checks.operator_cases import away_from_zero, distinct, normal, wide

MAX_SIDE = 5
MAX_BATCH = 4

sides = st.integers(1, MAX_SIDE)
batch_sizes = st.integers(1, MAX_BATCH)
seeds = st.integers(0, 2**32 - 1)
matrix_shapes = st.tuples(sides, sides)


@dataclass(frozen=True)
class Parent:
    """One parent of the operator under test.

    Attributes
    ----------
    name : str
        The Variable's name, which error messages repeat.
    shape : tuple of two ints
        One sample's shape.
    batched : bool
        A batch ``(batch, *shape)`` if True, else one matrix shared by the batch.
    fill : callable
        ``fill(rng, shape) -> ndarray``, one of the fills of ``operator_cases``.
    """

    name: str
    shape: tuple
    batched: bool
    fill: object = normal

    def __repr__(self):
        kind = "batch" if self.batched else "shared"
        return f"{self.name}{self.shape}:{kind}:{self.fill.__name__}"


@dataclass(frozen=True)
class Example:
    """What one property example runs: parents, batch size, seed and operator settings."""

    parents: tuple
    batch: int
    seed: int
    settings: dict = field(default_factory=dict)


# Which parents are batches, for operators of two parents: parametrizing over these
# guarantees every combination its share of examples.
LAYOUTS = {
    "shared, batch": (False, True),
    "batch, shared": (True, False),
    "both batched": (True, True),
    "both shared": (False, False),
}


@st.composite
def _example(draw, named_shapes, fill=normal, settings=None, batched=None):
    """Parents of the given ``(name, shape)``.

    ``batched`` fixes which parents are batches (one bool per parent); by default
    hypothesis decides for each parent.
    """
    if batched is None:
        batched = [draw(st.booleans()) for _ in named_shapes]
    parents = tuple(
        Parent(name, shape, is_batch, fill) for (name, shape), is_batch in zip(named_shapes, batched, strict=True)
    )
    return Example(parents, draw(batch_sizes), draw(seeds), settings or {})


# -- elementwise -------------------------------------------------------------------
@st.composite
def add_examples(draw):
    """Add of 1 to 3 parents of one shape, any mix of batched and shared."""
    shape, count = draw(matrix_shapes), draw(st.integers(1, 3))
    return draw(_example([(f"x{i}", shape) for i in range(count)]))


@st.composite
def multiply_examples(draw, layout):
    """Elementwise product of two matrices of one shape; ``layout`` is a key of ``LAYOUTS``."""
    shape = draw(matrix_shapes)
    return draw(_example([("a", shape), ("b", shape)], batched=LAYOUTS[layout]))


@st.composite
def scalar_multiply_examples(draw, layout):
    """A 1x1 scalar times a matrix; ``layout`` (a key of ``LAYOUTS``) says which is the batch."""
    return draw(_example([("s", (1, 1)), ("M", draw(matrix_shapes))], batched=LAYOUTS[layout]))


NO_SETTINGS = st.just({})


def unary_examples(fill=normal, settings=NO_SETTINGS):
    """One parent of random shape, batched or not, filled by ``fill``; ``settings`` draws keyword arguments."""

    @st.composite
    def examples(draw):
        return draw(_example([("x", draw(matrix_shapes))], fill=fill, settings=draw(settings)))

    return examples()


# -- MatMul -------------------------------------------------------------------------
@st.composite
def matmul_examples(draw, layout):
    """(n, k) @ (k, m) with random n, k, m; ``layout`` (a key of ``LAYOUTS``) says which side is the batch.

    "shared, batch" is a weight on the left as in a dense layer (W @ x),
    "batch, shared" a weight on the right (x @ W).
    """
    n, k, m = draw(sides), draw(sides), draw(sides)
    return draw(_example([("A", (n, k)), ("B", (k, m))], batched=LAYOUTS[layout]))


# -- shapes ---------------------------------------------------------------------------
@st.composite
def concat_examples(draw):
    """1 to 4 parents of unrelated shapes, each batched or shared."""
    count = draw(st.integers(1, 4))
    return draw(_example([(f"x{i}", draw(matrix_shapes)) for i in range(count)]))


@st.composite
def reshape_examples(draw):
    """A matrix and a new shape with the same number of elements."""
    rows, cols = draw(matrix_shapes)
    size = rows * cols
    new_rows = draw(st.sampled_from([d for d in range(1, size + 1) if size % d == 0]))
    return draw(_example([("x", (rows, cols))], settings={"shape": (new_rows, size // new_rows)}))


# -- convolution and pooling -------------------------------------------------------------
@st.composite
def convolve_examples(draw, layout):
    """An input of random size and a kernel (odd or even sides) no larger than it.

    ``layout`` (a key of ``LAYOUTS``) says which is the batch: "batch, shared" is
    batched data with a shared kernel, "both batched" per-sample kernels, and
    "shared, batch" one image with a batch of kernels.
    """
    height, width = draw(matrix_shapes)
    kernel = (draw(st.integers(1, height)), draw(st.integers(1, width)))
    return draw(_example([("x", (height, width)), ("kernel", kernel)], batched=LAYOUTS[layout]))


@st.composite
def max_pooling_examples(draw):
    """Random window size and stride: overlapping (stride < size), gapped (stride > size), uneven.

    Values are all distinct (``distinct``), so no window has a tie.
    """
    shape = draw(matrix_shapes)
    size = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    stride = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    return draw(_example([("x", shape)], fill=distinct, settings={"size": size, "stride": stride}))


__all__ = [
    "LAYOUTS",
    "Example",
    "Parent",
    "add_examples",
    "away_from_zero",
    "concat_examples",
    "convolve_examples",
    "distinct",
    "matmul_examples",
    "max_pooling_examples",
    "multiply_examples",
    "normal",
    "reshape_examples",
    "scalar_multiply_examples",
    "unary_examples",
    "wide",
]
