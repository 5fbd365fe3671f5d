"""The golden set (tests/fixtures/golden, recorded from the parity tests by `python -m tools.golden`):
the runtime answers every recorded record as Spark did, without Spark. `make test` runs this file
under every Python version pyproject declares (tests/test_pythons.py compares them bit for bit)."""

from __future__ import annotations

import pytest

from leapserve.runtime import supported_ops
from tests.support import golden

CASES = golden.cases()


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_answers_as_spark_did(case):
    check = golden.check_case(case)
    assert check.compared + check.errors + check.skipped > 0


def test_covers_every_op(monkeypatch):
    from leapserve.runtime import registry

    looked_up: set = set()
    lookup = registry.lookup
    monkeypatch.setattr(registry, "lookup", lambda name: looked_up.add(name) or lookup(name))
    for case in CASES:
        golden.load_case(case)
    # Ops scored by an optional extra's library are left out: the golden set runs on every Python
    # without extras (their parity with Spark: tests/runtime/ops/test_xgboost_parity.py).
    extras = {name for name, info in supported_ops().items() if info.extra}
    missing = sorted(set(supported_ops()) - looked_up - {"pipeline"} - extras)
    assert not missing, f"no golden case loads {missing}: record the set again (python -m tools.golden)"
