"""The op registry: op name (model.json "op") -> loader that builds the op's immutable model.

Adding an op is adding one module under leapserve/runtime/ops/ (or a loader to one) decorated with
``@op("name", family=...)``: importing the ops package imports every module in it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

_LOADERS: dict[str, "OpInfo"] = {}


@dataclass(frozen=True)
class OpInfo:
    name: str
    family: str
    loader: Callable
    module: str
    summary: str
    extra: str | None = None  # the optional extra (pip install leapserve[EXTRA]) whose library scores it


def op(name: str, *, family: str, extra: str | None = None):
    """Register ``loader(node) -> OpModel`` for the op ``name`` (``extra``: see OpInfo)."""

    def register(loader: Callable) -> Callable:
        if name in _LOADERS:
            raise RuntimeError(f"op {name!r} registered twice ({_LOADERS[name].module}, {loader.__module__})")
        doc = (loader.__doc__ or "").strip().splitlines()
        _LOADERS[name] = OpInfo(name, family, loader, loader.__module__, doc[0] if doc else "", extra)
        return loader

    return register


def _ensure_loaded() -> None:
    from . import ops  # noqa: F401  (importing registers every op module)


def lookup(name: str) -> OpInfo | None:
    _ensure_loaded()
    return _LOADERS.get(name)


def supported_ops() -> dict[str, OpInfo]:
    _ensure_loaded()
    return dict(sorted(_LOADERS.items()))
