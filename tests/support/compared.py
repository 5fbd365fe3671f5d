"""Which ops the running test compared with an oracle (Spark, MLeap's JVM runtime).

The comparison helpers (tests.support.parity and the tests that score with MLeap's JVM runtime)
call ``compared(pipeline, columns)`` after holding those output columns to the oracle;
tests/conftest.py sets ``on_compared`` to record the ops writing them, and fails a test marked
``@pytest.mark.parity("op")`` that did not compare "op". Kept apart from tests.support.parity so
that conftest can hook it without importing the runtime.
"""

from __future__ import annotations


def _ignore(op: str) -> None:
    pass


on_compared = _ignore


def compared(pipeline, columns) -> None:
    """``columns`` of ``pipeline`` were held to an oracle: the ops writing them count as compared."""
    wanted = set(columns)
    for st in pipeline.stages:
        if any(col in wanted for _, col, _ in st.outputs):
            on_compared(st.op)
