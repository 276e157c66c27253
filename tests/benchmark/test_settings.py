"""The run level comes from the environment that ``--quick`` / ``--tiny`` set, and picks the sizes."""

import importlib

import pytest

from benchmark import settings


@pytest.fixture
def level(monkeypatch):
    """Reload ``settings`` under given environment variables; restored to the real environment after."""

    def load(**variables):
        monkeypatch.delenv(settings.QUICK_VARIABLE, raising=False)
        monkeypatch.delenv(settings.TINY_VARIABLE, raising=False)
        for name, value in variables.items():
            monkeypatch.setenv(name, value)
        return importlib.reload(settings)

    yield load
    monkeypatch.undo()
    importlib.reload(settings)


def test_no_variable_is_a_full_run(level):
    loaded = level()
    assert (loaded.LEVEL, loaded.QUICK, loaded.TINY) == ("full", False, False)
    assert loaded.pick("full", "quick", tiny="tiny") == "full"


def test_quick_variable(level):
    loaded = level(MATRIXSLOW_BENCH_QUICK="1")
    assert loaded.LEVEL == "quick" and loaded.pick("full", "quick", tiny="tiny") == "quick"


def test_zero_means_off(level):
    assert level(MATRIXSLOW_BENCH_QUICK="0").LEVEL == "full"


def test_tiny_is_also_quick_and_falls_back_to_the_quick_value(level):
    loaded = level(MATRIXSLOW_BENCH_TINY="1")
    assert (loaded.LEVEL, loaded.QUICK) == ("tiny", True)
    assert loaded.pick("full", "quick", tiny="tiny") == "tiny"
    assert loaded.pick("full", "quick") == "quick"
