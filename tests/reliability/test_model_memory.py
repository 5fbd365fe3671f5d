"""Memory of replaced model copies: `leapserve serve` freezes the garbage collector's view of the
process once the configured models are in (server/app.py: ``gc.freeze()``), and a model's compiled
programs hold reference cycles, so a copy replaced by a reload or dropped by an unload was kept for
ever. The registry (in this process, as the server runs it) must let them go.

The Pipeline object itself is freed by reference counting; what the cycles hold is the rest: a row
program is a function whose globals hold it (and every stage model it calls), so a finalizer on
each stage model tells whether a copy's memory went."""

from __future__ import annotations

import gc
import os
import weakref

from leapserve.server.registry import Registry
from tests.support.bundles import write_zip
from tests.support.traffic import lin_entries


def _replace(target, k):
    tmp = target.with_name("." + target.name + ".tmp")
    write_zip(tmp, lin_entries(k))
    os.replace(tmp, target)


def _watch(served, freed: list, label: str) -> None:
    for st in served.pipeline.stages:
        weakref.finalize(st.model, freed.append, f"{label} {st.name}")


def test_reloaded_and_unloaded_copies_are_freed_after_gc_freeze(tmp_path, figures):
    models = tmp_path / "models"
    models.mkdir()
    write_zip(models / "lin.zip", lin_entries(1))
    write_zip(models / "gone.zip", lin_entries(2))
    registry = Registry(reload_interval=0, model_dir=models)
    registry.load_initial()
    freed: list[str] = []
    gc.freeze()  # what run_server does once the first load is done
    try:
        for name in ("lin", "gone"):
            _watch(registry.resolve(name), freed, name)
        stages = len(registry.resolve("lin").pipeline.stages)
        assert stages == 2

        _replace(models / "lin.zip", 3)
        registry.poll_once()  # the change is seen
        registry.poll_once()  # and stable: reloaded
        assert registry.resolve("lin").generation == 2
        (models / "gone.zip").unlink()
        registry.poll_once()  # unloaded
        assert registry.model_names() == ["lin"]
        gc.collect()
        assert sorted(f.split()[0] for f in freed) == ["gone"] * stages + ["lin"] * stages, freed

        # and the copies after them too (a second reload of a copy loaded after the freeze)
        _watch(registry.resolve("lin"), freed, "lin2")
        _replace(models / "lin.zip", 4)
        registry.poll_once()
        registry.poll_once()
        assert registry.resolve("lin").generation == 3
        gc.collect()
        assert len([f for f in freed if f.startswith("lin2 ")]) == stages, freed
    finally:
        gc.unfreeze()
    figures(freed=freed)
