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
