"""Fixtures the process-level tests of tests/dist share."""

import pytest

from tests.dist.test_faults import Processes


@pytest.fixture
def processes():
    """Processes a test starts; every one still running is killed when the test ends, pass or fail."""
    started = Processes()
    try:
        yield started
    finally:
        started.kill_all()
