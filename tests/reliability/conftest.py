"""Fixtures of the reliability tests: copies of real bundles and the figures each test records (their
`leapserve serve` processes come from tests/conftest.py's start_server).

Long runs are marked ``slow``: pyproject's addopts leave them out (``-m 'not slow'``); run them with
``pytest -m slow tests/reliability``. Every test also has a short version that always runs.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent

REPO = HERE.parents[1]
FIGURES = REPO / "build" / "reliability"


@pytest.fixture
def figures(request):
    """figures(name=value, ...) records a test's figures; they are printed and written to
    build/reliability/<test>.json when the test ends."""
    recorded: dict = {}

    def record(**values):
        recorded.update(values)

    yield record
    if recorded:
        FIGURES.mkdir(parents=True, exist_ok=True)
        name = request.node.name.replace("/", "_").replace(" ", "_")
        recorded["when"] = time.strftime("%Y-%m-%d %H:%M:%S")
        (FIGURES / f"{name}.json").write_text(json.dumps(recorded, indent=2, default=str) + "\n")
        print(f"\nFIGURES {request.node.name}: {json.dumps(recorded, default=str)}")


@pytest.fixture
def models_dir(tmp_path):
    """A folder of copies of real MLeap bundles: rf.zip (airbnb random forest), lr.zip (airbnb
    linear regression)."""
    from tests.support.bundles import LR_ZIP, RF_ZIP

    d = tmp_path / "models"
    d.mkdir()
    shutil.copyfile(RF_ZIP, d / "rf.zip")
    shutil.copyfile(LR_ZIP, d / "lr.zip")
    return d
