"""The event loop the grpc.aio servers and the HTTP port run on. Imports nothing at first:
`leapserve serve --help` reads EVENT_LOOPS."""

from __future__ import annotations

EVENT_LOOPS = ("uvloop", "asyncio")


def event_loop_kind(asked: str | None) -> str:
    """The event loop the servers run on: the one asked for, else uvloop where it is installed (the
    serving install has it wherever it builds), else asyncio's own. uvloop because grpc.aio's
    per-call work is mostly event-loop callbacks: an empty handler answers about a third more calls
    a second on it (docs/serving.md, Speed)."""
    if asked is not None:
        return asked
    return "uvloop" if uvloop_installed() else "asyncio"


def uvloop_installed() -> bool:
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return False
    return True


def new_event_loop(kind: str):
    if kind == "uvloop":
        import uvloop

        return uvloop.new_event_loop()
    import asyncio

    return asyncio.new_event_loop()
