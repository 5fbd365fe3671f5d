"""leapserve/runtime/jvm/character_data.py is exactly what `python -m tools.character_data` makes
from Java 17 (skipped where no Java 17 runs: the tables must come from Java 17 itself)."""

from __future__ import annotations

import pytest

from tools import character_data


def test_character_data_is_java_17s():
    try:
        fresh = character_data.generate()
    except character_data.JavaUnavailable as e:
        pytest.skip(str(e))
    committed = character_data.TARGET.read_text()
    assert fresh == committed, "character_data.py differs from Java 17's answers: run `python -m tools.character_data`"
