"""Finding bundles on disk: model directories, folders of versions, and when a bundle has changed.

* A model directory (``--model-dir DIR``): every bundle in DIR is a model named after its file
  (``DIR/NAME.zip``, ``DIR/NAME/bundle.json``); a folder that is not a bundle holds versions.
* A folder of versions holds one entry per version: ``VERSION/`` (a bundle directory, or a folder
  with a single ``.zip`` or a single bundle directory) or ``VERSION.zip``. A version found in a
  folder is named by a number (ASCII digits: ``1``, ``10``, ``20240601``); any other name
  (``bundle.zip``, ``v3``, ``2024-06-01``) is not served, with a note (below).
* A folder of versions may pin its model's default version: a file ``default_version`` in it holds
  the version's name. A ``default_version`` that holds no version name (empty: ``echo 2 >
  default_version`` truncates the file before it writes) is noted and left unread
  (``FolderScan.pin_unread``): a running server keeps the version it pinned before.
* Hidden files, ``__pycache__`` and files being written or left by editors (``.tmp``, ``.part``,
  ``.partial``, ``.swp``, ``~``) are not bundles.
* A folder that cannot be read (an NFS or CSI hiccup: EIO, ESTALE; a folder renamed away or
  replaced by a file; permissions) makes the scan fail (``ScanError``), never look empty: the
  registry keeps what it serves instead of unloading every model of an unreadable folder.

Layout mistakes are never silent: an entry the scan passes over (a name that is not a version
number, a version folder holding two bundles, an unreadable ``default_version``) becomes a *note*
naming the path and what was done with it; the registry logs each note once (WARNING) and ListModels
shows it. ``describe_models`` tells what a server would serve (versions, default, notes) without
loading anything (``leapserve inspect --model-dir``).

Version order (``version_key``): numbers compare as numbers (``9`` < ``10``) and rank above every
other name; other names (only given explicitly: ``--model NAME:VERSION=PATH``, LoadModel) compare
part by part, runs of digits as numbers (``1.9`` < ``1.10`` < ``v2``). The default version of a model
is its pinned one if any, else its highest version.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_VERSION = "1"  # the version of a bundle named without one
DEFAULT_VERSION_FILE = "default_version"  # in a folder of versions: the name of the pinned default
_IGNORED_SUFFIXES = (".tmp", ".part", ".partial", ".swp", "~")
_DIGITS = "0123456789"  # only ASCII digits make numbers (str.isdigit takes other scripts' digits too)
_MAX_PIN_BYTES = 256


class ScanError(OSError):
    """A folder of bundles could not be read: what the scan found is incomplete."""


def is_version_number(version: str) -> bool:
    return bool(version) and all(c in _DIGITS for c in version)


def version_key(version: str):
    """Sort key of versions: numbers as numbers, above every other name; other names part by part,
    runs of ASCII digits as numbers ("1.9" < "1.10" < "v2" < "1" < "9" < "10")."""
    if is_version_number(version):
        return (1, int(version), (), version)
    return (0, 0, tuple((0, int(p), "") if p[0] in _DIGITS else (1, 0, p)
                        for p in re.findall(r"[0-9]+|[^0-9]+", version)), version)


def is_bundle_dir(path: Path) -> bool:
    return path.is_dir() and (path / "bundle.json").is_file()


def _ignored(path: Path) -> bool:
    name = path.name
    return name.startswith(".") or name.endswith(_IGNORED_SUFFIXES) or name == "__pycache__"


def _bundles_in(entry: Path) -> list[Path]:
    """The bundles an entry of a folder of versions holds: itself (a zip file or a bundle
    directory), or the zips and bundle directories directly inside it."""
    if entry.is_file():
        return [entry] if entry.suffix == ".zip" else []
    if not entry.is_dir():
        return []
    if is_bundle_dir(entry):
        return [entry]
    return [p for p in sorted(entry.iterdir()) if not _ignored(p)
            and ((p.is_file() and p.suffix == ".zip") or is_bundle_dir(p))]


def _list(folder: Path) -> list[Path]:
    """The entries of a folder, sorted; ScanError when it cannot be listed."""
    try:
        return sorted(folder.iterdir())
    except OSError as e:
        raise ScanError(e.errno, f"cannot read {folder}: {e.strerror or e}") from e


@dataclass
class FolderScan:
    """What one folder of versions (or one bundle) offers: version -> bundle, the default version
    its ``default_version`` file pins (None: none), and notes on the entries passed over.
    ``pin_unread``: a ``default_version`` file is there but holds no version name."""

    path: Path
    versions: dict[str, Path] = field(default_factory=dict)
    pinned: str | None = None
    notes: list[str] = field(default_factory=list)
    pin_unread: bool = False


def _read_pin(path: Path, notes: list[str]) -> str | None:
    try:
        with open(path, "rb") as f:
            raw = f.read(_MAX_PIN_BYTES + 1)
    except OSError as e:
        raise ScanError(e.errno, f"cannot read {path}: {e.strerror or e}") from e
    try:
        text = raw.decode("utf-8").strip()
    except UnicodeDecodeError:
        text = ""
    if not text or len(raw) > _MAX_PIN_BYTES or any(c.isspace() for c in text):
        notes.append(f"{path}: ignored: expected the name of one version (e.g. 2), got {raw[:40]!r}; "
                     "a running server keeps the default version it pinned before")
        return None
    return text


def scan_versions(folder: Path) -> FolderScan:
    """The versions of a folder of versions, its pinned default and notes. ScanError if it cannot be
    read."""
    scan = FolderScan(folder)
    for entry in _list(folder):
        if _ignored(entry):
            continue
        try:
            if entry.name == DEFAULT_VERSION_FILE and entry.is_file():
                scan.pinned = _read_pin(entry, scan.notes)
                scan.pin_unread = scan.pinned is None
                continue
            bundles = _bundles_in(entry)
            is_file = entry.is_file()
        except ScanError:
            raise
        except OSError as e:  # EIO, ESTALE, EACCES on one entry: the scan is incomplete
            raise ScanError(e.errno, f"cannot read {entry}: {e.strerror or e}") from e
        if not bundles:
            continue  # not a bundle (a README, an empty folder): nothing was meant to serve
        version = entry.stem if is_file else entry.name
        if not is_version_number(version):
            scan.notes.append(f"{entry}: not served: a folder of versions names each version by a number "
                              f"({folder / '1.zip'}, {folder / '1'}/...), and {version!r} is not one")
        elif len(bundles) > 1:
            names = ", ".join(b.name for b in bundles)
            scan.notes.append(f"{entry}: version {version} not served: its folder holds {len(bundles)} bundles "
                              f"({names}); a version folder holds one")
        elif version in scan.versions:
            scan.notes.append(f"{bundles[0]}: not served: version {version} is "
                              f"{scan.versions[version]} already")
        else:
            scan.versions[version] = bundles[0]
    return scan


def scan_model_dir(folder: Path) -> dict[str, FolderScan]:
    """name -> what DIR/NAME offers, for a model directory (names whose folder holds no version but
    notes are kept, so that the notes show). ScanError if it, or a folder of versions in it,
    cannot be read."""
    models: dict[str, FolderScan] = {}
    for entry in _list(folder):
        if _ignored(entry):
            continue
        try:
            is_file, is_bundle, is_dir = entry.is_file(), is_bundle_dir(entry), entry.is_dir()
        except OSError as e:
            raise ScanError(e.errno, f"cannot read {entry}: {e.strerror or e}") from e
        if is_file:
            if entry.suffix == ".zip":
                models.setdefault(entry.stem, FolderScan(entry, {DEFAULT_VERSION: entry}))
        elif is_bundle:
            models.setdefault(entry.name, FolderScan(entry, {DEFAULT_VERSION: entry}))
        elif is_dir:
            scan = scan_versions(entry)
            if scan.versions or scan.notes:
                models.setdefault(entry.name, scan)
    return models


@dataclass
class ModelPlan:
    """What a server serves of one model: version -> (bundle, origin: "cli" for a bundle named on the
    command line, "scan" for one found in a folder), the pinned default and where it was pinned,
    and notes on what was passed over. ``pin_unread``: the ``default_version`` file that would pin it
    (its path) holds no version name (see FolderScan), "" otherwise."""

    versions: dict[str, tuple[Path, str]] = field(default_factory=dict)
    pinned: str | None = None
    pinned_by: str = ""
    notes: list[str] = field(default_factory=list)
    pin_unread: str = ""


def describe_models(models=(), model_dir: str | os.PathLike | None = None, default_versions: dict | None = None
                    ) -> tuple[dict[str, ModelPlan], list[str]]:
    """What a server with these settings would serve, without loading anything: name -> ModelPlan,
    and the folders that could not be read (with any of them, the plans are incomplete).

    ``models``: (name, version or None, path) as given by ``--model``; ``model_dir``: ``--model-dir``;
    ``default_versions``: name -> version from ``--default-version`` (wins over a
    ``default_version`` file)."""
    plans: dict[str, ModelPlan] = {}
    errors: list[str] = []
    explicit: dict[str, Path] = {}
    if model_dir is not None:
        model_dir = Path(model_dir)
    for name, version, path in models:
        path = Path(path)
        plan = plans.setdefault(name, ModelPlan())
        explicit.setdefault(name, path)
        try:
            if path.is_file() or is_bundle_dir(path):
                plan.versions[version or DEFAULT_VERSION] = (path, "cli")
                continue
            scan = scan_versions(path)
        except OSError as e:
            errors.append(f"model {name}: {e}")
            continue
        _merge(plan, scan, name)
    if model_dir is not None:
        try:
            scanned = scan_model_dir(model_dir)
        except OSError as e:
            errors.append(str(e))
            scanned = {}
        for name, scan in scanned.items():
            if name in explicit:  # --model wins over the directory's model of the same name
                hidden = ", ".join(sorted(scan.versions, key=version_key)) or "none"
                plans[name].notes.append(f"{scan.path}: not served: --model {name}={explicit[name]} names "
                                         f"model {name!r}, which hides this one (its versions: {hidden})")
                continue
            _merge(plans.setdefault(name, ModelPlan()), scan, name)
    for name, version in (default_versions or {}).items():
        plan = plans.setdefault(name, ModelPlan())
        plan.pinned, plan.pinned_by = version, f"--default-version {name}={version}"
    for name, plan in plans.items():
        if plan.pinned is not None and plan.pinned not in plan.versions:
            known = ", ".join(sorted(plan.versions, key=version_key)) or "none"
            plan.notes.append(f"model {name}: default version {plan.pinned} is pinned ({plan.pinned_by}) but "
                              f"there is no such version (versions: {known}); a request without a version "
                              "is refused until it exists")
    return plans, errors


def _merge(plan: ModelPlan, scan: FolderScan, name: str) -> None:
    for version, bundle in scan.versions.items():
        plan.versions.setdefault(version, (bundle, "scan"))
    plan.notes += scan.notes
    if scan.pinned is not None:
        plan.pinned, plan.pinned_by = scan.pinned, str(scan.path / DEFAULT_VERSION_FILE)
    elif scan.pin_unread:
        plan.pin_unread = str(scan.path / DEFAULT_VERSION_FILE)


def signature(path: Path):
    """What changes when a bundle is rewritten: identity, size and time of its file(s)."""
    try:
        st = path.stat()
        if not path.is_dir():
            return (st.st_ino, st.st_size, st.st_mtime_ns)
        parts = [(st.st_ino, st.st_mtime_ns)]
        for root, dirs, files in os.walk(path):
            dirs.sort()
            for f in sorted(files):
                fst = os.stat(os.path.join(root, f))
                parts.append((os.path.relpath(os.path.join(root, f), path), fst.st_size, fst.st_mtime_ns))
        return tuple(parts)
    except OSError:
        return None
