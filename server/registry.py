"""The models a server serves: their versions, loading, hot reload, and routing requests to them.

A model has one or more versions; each version is one bundle (zip file or directory) and is held
in a ``VersionSlot``. A slot serves a ``Served``: an immutable, loaded and warmed copy of the
bundle. Reloading builds a new ``Served`` next to the old one and swaps the reference, so requests
already holding the old copy finish on it. The request path reads ``Registry.resolve``, which
touches only an immutable routing table rebuilt on every change (no lock on the hot path).

Where bundles come from:

* ``--model NAME=PATH``: PATH is a bundle (zip or directory holding bundle.json), served as
  version "1", or a folder of versions. ``NAME:VERSION=PATH`` names the version.
* ``--model-dir DIR``: every bundle in DIR is a model named after its file; a folder that is not
  a bundle holds versions (the layouts: server/discovery.py).
* LoadModel (admin API), from paths inside the model directory or the configured admin paths.
  Given the file a scanned version serves, it reloads it and the watcher keeps the version; given
  another file, the version is the admin's (origin "admin"): scans no longer reload or unload it.

The default version of a model is the one pinned (``--default-version NAME=VERSION``, else a
``default_version`` file in its folder of versions), else the highest one loaded (the order:
discovery.version_key, numbers as numbers above other names). While a pinned version has no copy to
serve, a request without a version is refused (UNAVAILABLE): the operator chose that version, most
likely to roll back, and another one must not answer in its place. Versions, pins and notes on
what a scan passed over (layout mistakes: discovery.py) come from discovery.describe_models; each
note is logged once (WARNING) and shown by ListModels.

A reload that changes the inputs a model's pipeline reads (names or types: another pipeline copied
over the bundle) is refused like a failed load, the previous copy serving on, unless the registry
allows it (``allow_schema_change``: ``--allow-schema-change``) or LoadModel asks for it. A new
version may read other inputs: it is a new slot, compared with nothing.

A watcher thread polls every ``reload_interval`` seconds: new bundles are loaded and changed ones
reloaded once their size and time stamp have stayed the same for one interval (a half-written
file is not picked up), bundles gone from a scanned folder are unloaded. A bundle that fails to
load leaves the previous copy serving; the failure is logged and kept in the slot's ``error``. A
scan that fails (a folder that cannot be read) unloads nothing and unpins nothing: it is logged and
kept in ``scan_error`` until a scan succeeds again.

Readiness (``readiness``): the models are in (the first load is done), at least one model version
serves, and every *required* version has a copy to serve. Required are the bundles named by
``--model`` and those found at start; a bundle that appears later (or a version LoadModel adds)
serves once it loads, and while it cannot it shows only in its own model's health, never turning a
ready server unready.

Memory: once the first load is done the server freezes the garbage collector's view of the process
(``gc.freeze()``: no full pass walks the models in the middle of a request). A model's compiled row
programs are reference cycles (a function whose globals hold it and the stage models it calls), so
a frozen copy replaced by a reload or dropped by an unload would stay for ever: once such a copy is
no longer used by any request, the registry unfreezes, collects and freezes again
(``_release_replaced``, after the swap or unload and on every watcher round).
"""

from __future__ import annotations

import gc
import logging
import os
import threading
import time
import weakref
from pathlib import Path

from leapserve.runtime.errors import did_you_mean, some_of

from .discovery import (DEFAULT_VERSION, ScanError, describe_models, is_bundle_dir, scan_versions, signature,
                        version_key)
from .errors import BadRequest, ModelNotFound, ModelUnavailable, PermissionDenied, PreconditionFailed
from .loading import Served, load_and_warm

log = logging.getLogger("leapserve.registry")

LOADING, READY, FAILED = "LOADING", "READY", "FAILED"
UNKNOWN_LABEL = "_unknown"  # metrics label of a model or version name the registry does not know


class VersionSlot:
    """One version of a model and its loading state (changed only under the registry lock)."""

    __slots__ = ("name", "version", "path", "origin", "state", "error", "served", "signature", "pending",
                 "generation", "missing_logged", "required")

    def __init__(self, name: str, version: str, path: Path, origin: str):
        self.name = name
        self.version = version
        self.path = path
        self.origin = origin  # "cli" (a bundle named on the command line), "scan" (found in a folder), "admin"
        self.state = LOADING
        self.error = ""
        self.served: Served | None = None
        self.signature = None
        self.pending = None
        self.generation = 0
        self.missing_logged = False
        self.required = False  # the server is not ready while a required version has no copy to serve

    def info(self, is_default: bool) -> dict:
        served = self.served
        return {
            "version": self.version, "state": self.state, "error": self.error, "path": str(self.path),
            "loaded_at_ms": int(served.loaded_at * 1000) if served else 0,
            "generation": self.generation, "is_default": is_default,
        }


def input_schema(pipeline) -> dict[str, str]:
    """What a client must send: input name -> type (as GetModelMetadata shows it)."""
    return {name: str(ftype) for name, ftype in pipeline.inputs.items()}


def schema_change(old: dict[str, str], new: dict[str, str]) -> str:
    """How the inputs changed, in words ("" when they did not)."""
    parts = []
    gone = [n for n in old if n not in new]
    added = [n for n in new if n not in old]
    retyped = [f"{n} {old[n]} -> {new[n]}" for n in old if n in new and old[n] != new[n]]
    if gone:
        parts.append("inputs gone: " + ", ".join(gone))
    if added:
        parts.append("new inputs: " + ", ".join(added))
    if retyped:
        parts.append("inputs retyped: " + ", ".join(retyped))
    return "; ".join(parts)


class SchemaChanged(Exception):
    """A reload would change the inputs a served copy reads."""


# --- the registry ----------------------------------------------------------------------------

class Registry:
    def __init__(self, *, reload_interval: float = 2.0, model_dir: str | os.PathLike | None = None,
                 admin_roots: tuple = (), default_versions: dict | None = None, allow_schema_change: bool = False,
                 show_paths: bool = False):
        self.reload_interval = reload_interval
        self.show_paths = show_paths
        self.default_versions = dict(default_versions or {})  # name -> version (--default-version)
        self.allow_schema_change = allow_schema_change
        self.model_dir = Path(model_dir).resolve() if model_dir else None
        roots = [Path(p).resolve() for p in admin_roots]
        if self.model_dir is not None:
            roots.append(self.model_dir)
        self.admin_roots = tuple(roots)
        self._lock = threading.RLock()
        self._load_lock = threading.Lock()
        self._models: dict[str, dict[str, VersionSlot]] = {}
        self._explicit: list[tuple[str, str | None, Path]] = []  # (name, version, path) from --model
        self._explicit_folders: list[str] = []  # their folders, longest first (for_clients)
        self._unloaded: set[tuple[str, str]] = set()
        self._routes: dict[str, tuple] = {}
        self._listeners: list = []
        self._event_listeners: list = []
        self.after_initial_load: list = []  # callables run once the configured models are loaded
        self._arriving: dict[tuple[str, str], tuple[Path, object]] = {}  # new bundles waiting to be stable
        self.scan_error = ""  # why the last scan failed ("" once one succeeds)
        self._pins: dict[str, tuple[str, str]] = {}  # name -> (pinned version, pinned by)
        self._notes: dict[str, list[str]] = {}  # name -> notes of the last scan (discovery.py)
        self._logged_notes: set[str] = set()
        self._replaced: list = []  # weak references to copies replaced or unloaded while gc is frozen
        self._replaced_lock = threading.Lock()
        self._started = False
        self._initial_done = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # --- configuration ---------------------------------------------------------------------

    def add_model(self, name: str, path, version: str | None = None) -> None:
        """A model named on the command line (checked now: a typo should fail at once)."""
        p = Path(path).expanduser().resolve()
        if not name or "/" in name:
            raise ValueError(f"invalid model name {name!r}")
        if not p.exists():
            raise ValueError(f"model {name!r}: no such file or directory: {p}")
        try:
            scan = None if p.is_file() or is_bundle_dir(p) else scan_versions(p)
        except OSError as e:
            raise ValueError(f"model {name!r}: {e}") from None
        if scan is not None and not scan.versions:
            raise ValueError(f"model {name!r}: {p} is neither a bundle nor a folder of versions"
                             + "".join(f"; {note}" for note in scan.notes))
        for other, v, _ in self._explicit:
            if other == name and (v or DEFAULT_VERSION) == (version or DEFAULT_VERSION):
                raise ValueError(f"model {name!r} version {version or DEFAULT_VERSION} is given twice")
        self._explicit.append((name, version, p))
        # Where --model bundles are, as for_clients leaves them out (computed once: for_clients runs
        # on every ListModels, metadata and UNAVAILABLE answer), longest first.
        given = Path(path).expanduser().absolute()
        folders = set(self._explicit_folders) | {str(p.parent), str(given.parent)}
        self._explicit_folders = sorted((f for f in folders if f != os.sep), key=len, reverse=True)

    def add_listener(self, fn) -> None:
        """fn() is called (from any thread) after every change of a model's state."""
        self._listeners.append(fn)

    def add_event_listener(self, fn) -> None:
        """fn(event, name, version, seconds), for metrics: after each load attempt and unload
        ("loaded", "reloaded", "load_failed", "reload_failed", "unloaded"), and after each failed scan
        of the models and the first that works again ("scan_failed", "scan_recovered"; no name or
        version)."""
        self._event_listeners.append(fn)

    def _event(self, event: str, name: str, version: str, seconds: float = 0.0) -> None:
        for fn in self._event_listeners:
            try:
                fn(event, name, version, seconds)
            except Exception:  # metrics must never break loading
                log.exception("event listener failed")

    # --- the request path ------------------------------------------------------------------

    def resolve(self, name: str, version: str = "") -> Served:
        route = self._routes.get(name)
        if route is None:
            raise self.unknown_model(name)
        default, served, known = route
        if not version:
            if default is None:
                pin = self._pins.get(name)
                if pin is not None:
                    raise ModelUnavailable(self.for_clients(
                        f"model {name!r}: its default version {pin[0]} (pinned by {pin[1]}) is not ready "
                        f"({self._why(name, pin[0])}); name a version to use another one"))
                raise ModelUnavailable(f"model {name!r} is not ready ({self._why(name)})")
            return default
        s = served.get(version)
        if s is None:
            if version in known:
                raise ModelUnavailable(f"model {name!r} version {version!r} is not ready ({self._why(name, version)})")
            raise self.unknown_version(name, version, known)
        return s

    def unknown_model(self, name: str) -> ModelNotFound:
        """The error for a model name the registry does not know: it lists the models served (a few,
        then a count) and suggests one that differs only by case or a small typo."""
        names = sorted(self._models)  # a snapshot; no lock needed to read the keys
        if not names:
            return ModelNotFound(f"unknown model {name!r}: no model is served")
        message = f"unknown model {name!r} (models: {some_of(names, 10)})"
        guess = did_you_mean(name, names)
        if guess is not None:
            message += f"; did you mean {guess!r}?"
        return ModelNotFound(message)

    @staticmethod
    def unknown_version(name: str, version: str, known) -> ModelNotFound:
        """The error for a version the model does not have: it lists the versions it has."""
        return ModelNotFound(f"model {name!r} has no version {version!r} (versions: {sorted(known, key=version_key)})")

    def metric_labels(self, name: str, version: str) -> tuple[str, str]:
        """(model, version) labels of a request for (name, version): the version that serves it
        (the default one when version is empty; "" while none serves). Names the registry does not
        know become "_unknown", so that clients cannot make up new label values."""
        route = self._routes.get(name)
        if route is None:
            return UNKNOWN_LABEL, ""
        if not version:
            default = route[0]
            return name, default.version if default is not None else ""
        return name, version if version in route[2] else UNKNOWN_LABEL

    def served_count(self) -> int:
        """Model versions serving a loaded copy."""
        return sum(len(route[1]) for route in self._routes.values())

    def _why(self, name: str, version: str | None = None) -> str:
        parts = []
        with self._lock:
            slots = self._models.get(name, {})
            for v, slot in sorted(slots.items(), key=lambda kv: version_key(kv[0])):
                if version is None or v == version:
                    parts.append(f"version {v}: {slot.state.lower()}" + (f": {slot.error}" if slot.error else ""))
        return self.for_clients("; ".join(parts)) or ("no such version" if version is not None else "no version")

    def _rebuild_routes(self) -> None:
        routes = {}
        for name, slots in self._models.items():
            served = {v: s.served for v, s in slots.items() if s.served is not None}
            pin = self._pins.get(name)
            if pin is not None:
                default = served.get(pin[0])
            else:
                default = served[max(served, key=version_key)] if served else None
            routes[name] = (default, served, frozenset(slots))
        self._routes = routes

    # --- what the services report ----------------------------------------------------------

    def model_names(self) -> list[str]:
        return sorted(self._models)

    def versions(self, name: str) -> list[dict]:
        """Each version's state (see VersionSlot.info), lowest first. ModelNotFound if unknown."""
        with self._lock:
            slots = self._models.get(name)
            if slots is None:
                raise self.unknown_model(name)
            default = self._routes.get(name, (None,))[0]
            infos = [slot.info(default is not None and default.version == v)
                     for v, slot in sorted(slots.items(), key=lambda kv: version_key(kv[0]))]
        for info in infos:
            info["path"], info["error"] = self.for_clients(info["path"]), self.for_clients(info["error"])
        return infos

    def slot_state(self, name: str, version: str) -> dict:
        for info in self.versions(name):
            if info["version"] == version:
                return info
        raise ModelNotFound(f"model {name!r} has no version {version!r}")

    def ready(self) -> bool:
        return self.readiness()[0]

    def readiness(self) -> tuple[bool, str]:
        """(ready, why not): the first load done, at least one version serving, and every required
        version (named by --model or found at start) with a copy to serve (a failed reload keeps an
        older copy: ready). A bundle found later that fails to load does not count."""
        if not self._initial_done:
            return False, "loading the configured models"
        with self._lock:
            missing = [s for slots in self._models.values() for s in slots.values()
                       if s.required and s.served is None]
            if missing:
                s = missing[0]
                more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
                return False, (f"model {s.name} version {s.version} has no copy to serve: {s.state.lower()}"
                               + (f": {s.error}" if s.error else "") + more)
            if not any(s.served is not None for slots in self._models.values() for s in slots.values()):
                return False, "no model loaded"
            return True, ""

    def model_healthy(self, name: str) -> bool:
        """Every version of the model serving its latest bundle (no load failure pending), and its
        pinned default version (if any) among them."""
        return not self.model_trouble(name)

    def model_trouble(self, name: str) -> str:
        """Why the model is not healthy ("" when it is): the versions at fault."""
        with self._lock:
            slots = self._models.get(name, {})
            if not slots:
                return "no version"
            bad = [f"version {v}: " + ("reload failed, the previous copy serves: " + s.error if s.served is not None
                                       else s.state.lower() + (f": {s.error}" if s.error else ""))
                   for v, s in sorted(slots.items(), key=lambda kv: version_key(kv[0]))
                   if s.served is None or s.error]
            pin = self._pins.get(name)
            if pin is not None and pin[0] not in slots:
                bad.append(f"its pinned default version {pin[0]} ({pin[1]}) does not exist")
            return "; ".join(bad)

    def model_loading(self, name: str) -> bool:
        """Every version of the model is being loaded for the first time."""
        with self._lock:
            slots = self._models.get(name, {})
            return bool(slots) and all(s.state == LOADING for s in slots.values())

    def initial_load_done(self) -> bool:
        return self._initial_done

    def pinned_default(self, name: str) -> str:
        """The model's pinned default version ("" when none is pinned)."""
        pin = self._pins.get(name)
        return pin[0] if pin is not None else ""

    def notes(self, name: str | None = None) -> list[str]:
        """The notes of the last scan on model ``name``; with None, those on names the registry
        does not serve (their model has no version). Paths in them as clients see them (for_clients)."""
        with self._lock:
            if name is not None:
                notes = list(self._notes.get(name, ()))
            else:
                notes = [n for model, notes in sorted(self._notes.items()) if model not in self._models for n in notes]
        return [self.for_clients(n) for n in notes]

    # --- loading ---------------------------------------------------------------------------

    def _discover(self) -> tuple[dict[tuple[str, str], tuple[Path, str]], list[str]]:
        """((name, version) -> (bundle path, origin) for every bundle the configuration names,
        the folders that could not be read). With any of the latter, what was found is incomplete.
        Takes in the pinned default versions and the notes (logging each new note once)."""
        plans, errors = describe_models([(n, v, p) for n, v, p in self._explicit], self.model_dir,
                                        self.default_versions)
        found = {(name, v): where for name, plan in plans.items() for v, where in plan.versions.items()}
        pins = {name: (plan.pinned, plan.pinned_by) for name, plan in plans.items() if plan.pinned is not None}
        notes = {name: plan.notes for name, plan in plans.items() if plan.notes}
        with self._lock:
            previous_pins, previous_notes = dict(self._pins), dict(self._notes)
        for name, plan in plans.items():
            # A pin file read while being rewritten (empty) keeps the pin it held.
            pin = previous_pins.get(name)
            if plan.pinned is None and plan.pin_unread and pin is not None and pin[1] == plan.pin_unread:
                pins[name] = pin
        if errors:
            # An incomplete scan (a folder that could not be read) does not tell which pins and notes
            # are gone: like the models, they stay as last seen until a scan succeeds (an unpinned
            # model would serve its highest version, most likely the one rolled back from).
            for name, pin in previous_pins.items():
                pins.setdefault(name, pin)
            for name, ns in previous_notes.items():
                if name not in notes or not plans[name].versions:  # not seen (a --default-version alone)
                    notes[name] = ns
        current = {n for ns in notes.values() for n in ns}
        for name, ns in sorted(notes.items()):
            for note in ns:
                if note not in self._logged_notes:
                    log.warning("%s", note, extra={"event": "model_layout_note", "model": name, "note": note})
        pins_changed = False
        with self._lock:
            self._logged_notes = current  # a note that goes and comes back is logged again
            self._notes = notes
            if pins != self._pins:
                pins_changed = True
                for name in sorted(set(pins) | set(self._pins)):
                    if pins.get(name) != self._pins.get(name):
                        if name in pins:
                            log.info("model %s: default version pinned to %s (%s)", name, pins[name][0],
                                     pins[name][1], extra={"event": "model_default_pinned", "model": name,
                                                           "version": pins[name][0], "pinned_by": pins[name][1]})
                        else:
                            log.info("model %s: default version no longer pinned: the highest loaded one serves",
                                     name, extra={"event": "model_default_unpinned", "model": name})
                self._pins = pins
                self._rebuild_routes()
        if pins_changed:
            self._notify()
        return found, errors

    def _scan_result(self, errors: list[str]) -> bool:
        """Log a scan's failure (once while it lasts) and its recovery; True when it was complete."""
        if errors:
            error = "; ".join(errors)
            if not self.scan_error:
                log.error("scanning the models failed, keeping every loaded model until a scan succeeds: %s",
                          error, extra={"event": "model_scan_failed", "error": error})
            self.scan_error = error
            self._event("scan_failed", "", "")
            return False
        if self.scan_error:
            self._event("scan_recovered", "", "")
            log.warning("scanning the models works again (it failed: %s)", self.scan_error,
                        extra={"event": "model_scan_recovered", "error": self.scan_error})
            self.scan_error = ""
        return True

    def _stable_new(self, found) -> dict:
        """What of ``found`` may become a new slot now: everything before the first load is done;
        after it, a new bundle once its signature has stayed the same for one interval (a bundle
        still being copied into the folder is not read half-written, as with changed ones)."""
        if not self._initial_done:
            return found
        with self._lock:
            known = {(name, v) for name, slots in self._models.items() for v in slots}
        out = {}
        arriving = {}
        for key, (path, origin) in found.items():
            if key in known or key in self._unloaded:
                out[key] = (path, origin)
                continue
            sig = signature(path)
            if sig is not None and self._arriving.get(key) == (path, sig):
                out[key] = (path, origin)
            else:
                arriving[key] = (path, sig)
        self._arriving = arriving
        return out

    def _sync_slots(self, found, complete: bool = True) -> list[VersionSlot]:
        """Add slots for new bundles, drop slots whose scanned bundle is gone (only after a complete
        scan); returns new slots."""
        new = []
        gone: list[tuple[str, str]] = []
        changed = False
        candidates = self._stable_new(found)
        with self._lock:
            for (name, version), (path, origin) in candidates.items():
                if (name, version) in self._unloaded:
                    continue
                slots = self._models.setdefault(name, {})
                slot = slots.get(version)
                if slot is None:
                    slot = VersionSlot(name, version, path, origin)
                    slot.required = origin == "cli" or not self._initial_done
                    slots[version] = slot
                    new.append(slot)
                    changed = True
                elif slot.origin != "admin" and slot.path != path:
                    slot.path = path  # e.g. a version folder now holding a zip instead of a directory
            for name in list(self._models):
                slots = self._models[name]
                for version in list(slots):
                    slot = slots[version]
                    if slot.origin == "scan" and (name, version) not in found and complete:
                        log.warning("model %s version %s: bundle %s is gone, unloading", name, version, slot.path,
                                    extra={"event": "model_unloaded", "model": name, "version": version,
                                           "path": str(slot.path)})
                        del slots[version]
                        self._forget(slot.served)
                        gone.append((name, version))
                        changed = True
                    elif slot.origin == "cli" and not slot.path.exists():
                        if not slot.missing_logged:
                            log.warning("model %s version %s: bundle %s is gone; still serving the loaded copy",
                                        name, version, slot.path)
                            slot.missing_logged = True
                    else:
                        slot.missing_logged = False
                if not slots:
                    del self._models[name]
            if changed:
                self._rebuild_routes()
        for name, version in gone:
            self._event("unloaded", name, version)
        if changed:
            self._notify()
        if gone:
            self._release_replaced()
        return new

    def _forget(self, served: Served | None) -> None:
        """A copy no longer served (replaced or unloaded): to be collected once no request holds it."""
        if served is not None and gc.get_freeze_count():
            with self._replaced_lock:
                self._replaced.append(weakref.ref(served))

    def _release_replaced(self) -> None:
        """Free the replaced copies no request holds any more: they were frozen with the rest of the
        process (gc.freeze), and their compiled programs are reference cycles only a collection
        frees. Unfreeze, collect, freeze again: one full collection per reload or unload, in the
        watcher's (or the admin call's) thread, never in a request's."""
        with self._replaced_lock:
            if not self._replaced:
                return
            alive = [r for r in self._replaced if r() is not None]
            if len(alive) == len(self._replaced):
                return  # every replaced copy still finishes some request: next round
            self._replaced = alive
            if not gc.get_freeze_count():
                return
            gc.unfreeze()
            gc.collect()
            gc.freeze()

    def _load(self, slot: VersionSlot, allow_schema_change: bool = False) -> str | None:
        """Load, warm and swap in one slot's bundle. Returns the error, or None. A copy whose inputs
        differ from the served copy's is refused unless allowed (here or by the registry)."""
        with self._load_lock:
            path = slot.path
            sig = signature(path)
            started = time.monotonic()
            try:
                pipeline, codec = load_and_warm(path)
                previous = slot.served
                if previous is not None and not (allow_schema_change or self.allow_schema_change):
                    change = schema_change(input_schema(previous.pipeline), input_schema(pipeline))
                    if change:
                        raise SchemaChanged(
                            f"the new bundle reads other inputs than generation {previous.generation} ({change}); "
                            "refused: serve it as a new version, or allow the change (--allow-schema-change, "
                            "or LoadModel with allow_schema_change)")
            except Exception as e:  # a bad bundle must never stop the server or its watcher
                error = f"{type(e).__name__}: {e}"
                with self._lock:
                    slot.error = error
                    slot.signature = sig
                    slot.pending = None
                    if slot.served is None:
                        slot.state = FAILED
                    self._rebuild_routes()
                seconds = time.monotonic() - started
                fields = {"model": slot.name, "version": slot.version, "path": str(path), "error": error,
                          "ms": round(seconds * 1000, 1), "generation": slot.generation}
                if slot.served is not None:
                    log.error("model %s version %s: reloading %s failed, still serving generation %d: %s",
                              slot.name, slot.version, path, slot.generation, error,
                              extra={"event": "model_reload_failed", **fields})
                    self._event("reload_failed", slot.name, slot.version, seconds)
                else:
                    log.error("model %s version %s: loading %s failed, not serving: %s",
                              slot.name, slot.version, path, error, extra={"event": "model_load_failed", **fields})
                    self._event("load_failed", slot.name, slot.version, seconds)
                self._notify()
                return error
            with self._lock:
                if self._models.get(slot.name, {}).get(slot.version) is not slot:
                    return None  # unloaded while loading
                slot.generation += 1
                self._forget(slot.served)
                slot.served = Served(slot.name, slot.version, str(path), pipeline, codec, time.time(),
                                     slot.generation)
                slot.state = READY
                slot.error = ""
                slot.signature = sig
                slot.pending = None
                self._rebuild_routes()
            seconds = time.monotonic() - started
            reloaded = slot.generation > 1
            log.info("model %s version %s: %s %s in %.0f ms (generation %d)", slot.name, slot.version,
                     "reloaded" if reloaded else "loaded and warmed", path, seconds * 1000, slot.generation,
                     extra={"event": "model_reloaded" if reloaded else "model_loaded", "model": slot.name,
                            "version": slot.version, "path": str(path), "ms": round(seconds * 1000, 1),
                            "generation": slot.generation})
            self._event("reloaded" if reloaded else "loaded", slot.name, slot.version, seconds)
            self._notify()
            self._release_replaced()
            return None

    def _notify(self) -> None:
        for fn in self._listeners:
            try:
                fn()
            except Exception:  # a listener's bug must not break loading
                log.exception("state listener failed")

    def load_initial(self) -> None:
        """Discover and load every configured bundle (in the calling thread)."""
        found, errors = self._discover()
        new = self._sync_slots(found, self._scan_result(errors))
        for slot in new:
            self._load(slot)
        self._initial_done = True
        self._notify()

    def poll_once(self) -> None:
        """One round of the watcher: new bundles, gone bundles, changed bundles."""
        found, errors = self._discover()
        new = self._sync_slots(found, self._scan_result(errors))
        for slot in new:
            self._load(slot)
        with self._lock:
            slots = [s for versions in self._models.values() for s in versions.values() if s not in new]
        for slot in slots:
            sig = signature(slot.path)
            if sig is None or sig == slot.signature:
                slot.pending = None
                continue
            if sig == slot.pending:  # unchanged for one interval: the writer is done
                self._load(slot)
            else:
                slot.pending = sig
        self._release_replaced()  # copies still busy when they were replaced

    def start(self) -> None:
        """Load everything in a background thread, then watch for changes."""
        if self._started:
            return
        self._started = True
        self._thread = threading.Thread(target=self._run, name="leapserve-models", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self.load_initial()
        except Exception:
            log.exception("initial model loading failed")
            self._initial_done = True
            self._notify()
        for fn in self.after_initial_load:
            fn()
        while self.reload_interval > 0 and not self._stop.wait(self.reload_interval):
            try:
                self.poll_once()
            except Exception:
                log.exception("model watcher round failed")

    def stop(self) -> None:
        self._stop.set()

    # --- admin -----------------------------------------------------------------------------

    def allowed_path(self, path: str) -> Path:
        """``path`` resolved (relative to the model directory), when it lies inside the model
        directory or an admin path; BadRequest or PermissionDenied naming it as the client gave it."""
        if not path:
            raise BadRequest("a path is required")
        if path.startswith("~"):
            # Never expanded for a client: it would name the server's home directories (and an
            # unknown user made Path.expanduser raise: INTERNAL).
            raise BadRequest(f"path {path!r}: expected an absolute path or one relative to the model "
                             "directory; a leading '~' is not expanded")
        p = Path(path)
        if not p.is_absolute() and self.model_dir is not None:
            p = self.model_dir / p
        try:
            p = p.resolve()
        except RuntimeError:  # Python 3.11's words for a symbolic link loop (they hold its absolute path)
            raise BadRequest(f"path {path!r}: cannot be resolved: a symbolic link loop") from None
        except OSError as e:
            raise BadRequest(f"path {path!r}: cannot be resolved: {e.strerror or type(e).__name__}") from None
        # Answers name the path as the client gave it, never where it resolved (a link's target, the
        # model directory's absolute path).
        if not any(p == root or root in p.parents for root in self.admin_roots):
            raise PermissionDenied(f"path {path!r}: expected a path inside the model directory or the "
                                   "configured admin paths; it is outside them")
        try:
            p.exists()  # a name the file system cannot hold (a part over 255 bytes) raises here, not later
        except OSError as e:
            raise BadRequest(f"path {path!r}: cannot be read: {e.strerror or type(e).__name__}") from None
        return p

    def _check_admin_path(self, path: str) -> Path:
        """The bundle LoadModel may read at ``path`` (see allowed_path)."""
        p = self.allowed_path(path)
        if not p.exists():
            raise ModelNotFound(f"path {path!r}: no such file or directory")
        if not (p.is_file() or is_bundle_dir(p)):
            raise BadRequest(f"path {path!r}: expected a bundle (a zip file or a directory holding "
                             "bundle.json); it is neither")
        return p

    def _without_roots(self, text: str) -> str:
        """``text`` with the allowed roots' absolute prefixes left out (paths shown relative to them)."""
        for root in sorted(self.admin_roots, key=lambda r: len(str(r)), reverse=True):
            text = text.replace(str(root) + os.sep, "").replace(str(root), ".")
        return text

    def for_clients(self, text: str) -> str:
        """``text`` as clients may see it: bundle paths relative to the model directory and admin
        paths, a --model bundle elsewhere by its file name (the server's layout is not theirs to
        know), unless the operator asked for --show-paths."""
        if self.show_paths or not text:
            return text
        for folder in self._explicit_folders:
            text = text.replace(folder + os.sep, "")
        return self._without_roots(text)

    def admin_load(self, name: str, version: str, path: str, allow_schema_change: bool = False) -> dict:
        """LoadModel: load (or replace) one version from an allowed path; returns its info.
        ``allow_schema_change``: the new copy may read other inputs than the one it replaces."""
        if not name or "/" in name:
            raise BadRequest(f"invalid model name {name!r}")
        p = self._check_admin_path(path)
        with self._lock:
            slots = self._models.get(name, {})
            if not version:
                pin = self._pins.get(name)
                default = self._routes.get(name, (None,))[0]
                if pin is not None:  # the version requests without one get, served or not
                    version = pin[0]
                elif default is not None:
                    version = default.version
                else:
                    version = max(slots, key=version_key) if slots else DEFAULT_VERSION
            slot = slots.get(version)
            created = slot is None
            before = None if created else (slot.path, slot.origin, slot.signature)
            if created:
                slot = VersionSlot(name, version, p, "admin")
                self._models.setdefault(name, {})[version] = slot
            elif slot.path.resolve() != p:
                # Another file: the version is the admin's from now on (scans no longer reload or
                # unload it). The same file (a forced reload) stays with whoever managed it.
                slot.path = p
                slot.origin = "admin"
            self._unloaded.discard((name, version))
            self._rebuild_routes()
        self._notify()
        error = self._load(slot, allow_schema_change)
        if error is not None:
            if created:
                with self._lock:
                    slots = self._models.get(name, {})
                    if slots.get(version) is slot:
                        del slots[version]
                        if not slots:
                            del self._models[name]
                    self._rebuild_routes()
                self._notify()
            else:
                with self._lock:
                    if slot.path != before[0]:  # the copy serving (if any) is still the previous file's
                        slot.path, slot.origin, slot.signature = before
            refusal = PreconditionFailed if error.startswith(SchemaChanged.__name__ + ":") else BadRequest
            raise refusal(f"model {name!r} version {version!r} cannot be loaded from path {path!r}: "
                          f"{self._without_roots(error)}")
        return self.slot_state(name, version)

    def admin_unload(self, name: str, version: str) -> list[str]:
        with self._lock:
            slots = self._models.get(name)
            if slots is None:
                raise self.unknown_model(name)
            if version and version not in slots:
                raise ModelNotFound(f"model {name!r} has no version {version!r}")
            versions = [version] if version else sorted(slots, key=version_key)
            for v in versions:
                self._forget(slots.pop(v).served)
                self._unloaded.add((name, v))
            if not slots:
                del self._models[name]
            self._rebuild_routes()
        log.info("model %s: unloaded version(s) %s", name, ", ".join(versions),
                 extra={"event": "model_unloaded", "model": name, "versions": versions})
        for v in versions:
            self._event("unloaded", name, v)
        self._notify()
        self._release_replaced()
        return versions
