"""Every Python version pyproject declares gives the same answers, bit for bit: the golden set
(tests/fixtures/golden) scored here and by each other version's serving install (made by `make
setup` in .venv-py3.X) through `python -m tests.support.golden`."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.support import golden

REPO = Path(__file__).resolve().parents[1]
CLASSIFIER = re.compile(r"Programming Language :: Python :: (3\.\d+)$")


def declared_versions() -> list[str]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    return [m.group(1) for c in project["classifiers"] if (m := CLASSIFIER.match(c))]


THIS = f"{sys.version_info.major}.{sys.version_info.minor}"
OTHERS = [v for v in declared_versions() if v != THIS]


def test_pyproject_declares_this_python_and_others():
    assert THIS in declared_versions() and OTHERS
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert project["requires-python"] == f">={min(declared_versions(), key=lambda v: int(v.split('.')[1]))}"


@pytest.fixture(scope="module")
def ours() -> dict:
    """This Python's answers to the golden set, worked out once for every other version."""
    return {case.name: golden.outputs(case) for case in golden.cases()}


@pytest.mark.parametrize("version", OTHERS)
def test_same_answers_as_this_python(version, ours):
    python = REPO / f".venv-py{version}" / "bin" / "python"
    assert python.exists(), f"no Python {version} environment at {python.parent.parent}: run `make setup`"
    run = subprocess.run([str(python), "-m", "tests.support.golden"], cwd=REPO, capture_output=True, text=True,
                         timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    theirs = json.loads(run.stdout)
    assert theirs.keys() == ours.keys()
    differ = sorted(name for name in ours if theirs[name] != ours[name])
    assert not differ, f"Python {version} answers differently in {len(differ)} cases: {differ[:10]}"
