"""The book's per-sample loops with ``node.forward()`` (values readable as ``.A``) beside plain values.

The same loop runs both ways (``book_loops``); the end of the run prints the ratio, which is
what the book's ``.value.A`` reads cost a program written the book's way. The engine's own
paths (``optimizer.one_step()``, the trainers) never wrap, so ``test_engine_step`` does not
see it at all.
"""

import pytest

from . import book_loops
from .timing import measure


@pytest.mark.parametrize("engine", list(book_loops.FORWARDS))
@pytest.mark.parametrize("loop", list(book_loops.LOOPS))
def test_book_loop(benchmark, loop, engine):
    run = book_loops.LOOPS[loop]()
    forward = book_loops.FORWARDS[engine]
    benchmark.group = f"book_loop[{loop}, {book_loops.SAMPLES} samples]"
    benchmark.extra_info.update(kind="book_loop", model=loop, batch=1, engine=engine)
    measure(benchmark, lambda: run(forward))
