"""Shared fixtures: the one Spark session (real Spark, real MLeap jars) and MLeap's JVM harness."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
SHARED = REPO.parent / "shared"
FIXTURES = SHARED / "fixtures" / "mleap"

sys.path.insert(0, str(TESTS))  # the parity harness (tests/parity.py) is imported by name


@pytest.fixture(scope="session")
def spark():
    import bundler

    return bundler.spark_session()


@pytest.fixture(scope="session")
def mleap_jvm():
    from bundler.mleap_jvm import MleapJvm

    jvm = MleapJvm()
    yield jvm
    jvm.close()


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    if not FIXTURES.is_dir():
        pytest.fail(f"MLeap fixtures not found at {FIXTURES} (../shared beside the repository)")
    return FIXTURES


# --- parity markers --------------------------------------------------------------------------
# `@pytest.mark.parity("op", ...)` declares the ops a test proves against Spark; docs/ops.md is
# generated from these markers (server/runtime/opsdoc.py). While the suite runs, every op the
# runtime loads is recorded per test module, and a test fails if it declares an op that its module
# never loaded: the table cannot cite a test that does not exercise the op.

_loaded_in_module: dict[str, set[str]] = {}
_current_module = [""]


def pytest_configure(config):
    from server.runtime import registry

    original = registry.lookup

    def recording_lookup(name):
        _loaded_in_module.setdefault(_current_module[0], set()).add(name)
        return original(name)

    registry.lookup = recording_lookup


def pytest_runtest_setup(item):
    _current_module[0] = str(item.fspath)


@pytest.fixture(autouse=True)
def _declared_ops_are_loaded(request):
    declared = {op for m in request.node.iter_markers("parity") for op in m.args}
    yield
    if declared:
        loaded = _loaded_in_module.get(str(request.node.fspath), set())
        missing = sorted(declared - loaded)
        assert not missing, f"declares parity for {missing}, but its module never loaded them"
