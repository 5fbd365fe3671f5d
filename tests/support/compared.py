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
    """``columns`` of ``pipeline`` were held to an oracle: the ops writing them count as compared,
    with the child models of such an op (one-vs-rest's classifiers: each is one entry of its
    outputs)."""
    wanted = set(columns)
    for st in pipeline.stages:
        if any(col in wanted for _, col, _ in st.outputs):
            on_compared(st.op)
            for child in _children(st.model):
                on_compared(child)


def _children(model) -> list[str]:
    """The op names of the models an op's model holds (its dataclass fields)."""
    from leapserve.runtime.model import OpModel

    found = []
    for value in getattr(model, "__dict__", {}).values():
        for item in value if isinstance(value, (tuple, list)) else (value,):
            if isinstance(item, OpModel) and item is not model and item.op_name:
                found.append(item.op_name)
    return found
