"""Finding bundles on disk: model directories, folders of versions, and when a bundle has changed.

* A model directory (``--model-dir DIR``): every bundle in DIR is a model named after its file
  (``DIR/NAME.zip``, ``DIR/NAME/bundle.json``); a folder that is not a bundle holds versions.
* A folder of versions holds one entry per version: ``VERSION/`` (a bundle directory, or a folder
  with a single ``.zip`` or a single bundle directory) or ``VERSION.zip``.
* Hidden files, ``__pycache__`` and files being written or left by editors (``.tmp``, ``.part``,
  ``.partial``, ``.swp``, ``~``) are not bundles.
* A folder that cannot be read (an NFS or CSI hiccup: EIO, ESTALE; a folder renamed away or
  replaced by a file; permissions) makes the scan fail (``ScanError``), never look empty: the
  registry keeps what it serves instead of unloading every model of an unreadable folder.
"""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_VERSION = "1"  # the version of a bundle named without one
_IGNORED_SUFFIXES = (".tmp", ".part", ".partial", ".swp", "~")


class ScanError(OSError):
    """A folder of bundles could not be read: what the scan found is incomplete."""


def is_bundle_dir(path: Path) -> bool:
    return path.is_dir() and (path / "bundle.json").is_file()


def _ignored(path: Path) -> bool:
    name = path.name
    return name.startswith(".") or name.endswith(_IGNORED_SUFFIXES) or name == "__pycache__"


def _version_bundle(entry: Path) -> Path | None:
    """The bundle of one entry of a folder of versions, or None."""
    if entry.is_file():
        return entry if entry.suffix == ".zip" else None
    if not entry.is_dir():
        return None
    if is_bundle_dir(entry):
        return entry
    candidates = [p for p in sorted(entry.iterdir()) if not _ignored(p)
                  and ((p.is_file() and p.suffix == ".zip") or is_bundle_dir(p))]
    return candidates[0] if len(candidates) == 1 else None


def _list(folder: Path) -> list[Path]:
    """The entries of a folder, sorted; ScanError when it cannot be listed."""
    try:
        return sorted(folder.iterdir())
    except OSError as e:
        raise ScanError(e.errno, f"cannot read {folder}: {e.strerror or e}") from e


def scan_versions(folder: Path) -> dict[str, Path]:
    """version -> bundle path for a folder of versions. ScanError if it cannot be read."""
    out: dict[str, Path] = {}
    for entry in _list(folder):
        if _ignored(entry):
            continue
        try:
            bundle = _version_bundle(entry)
            is_file = entry.is_file()
        except OSError as e:  # EIO, ESTALE, EACCES on one entry: the scan is incomplete
            raise ScanError(e.errno, f"cannot read {entry}: {e.strerror or e}") from e
        if bundle is not None:
            version = entry.stem if is_file else entry.name
            out.setdefault(version, bundle)
    return out


def scan_model_dir(folder: Path) -> dict[str, dict[str, Path]]:
    """name -> {version -> bundle path} for a model directory. ScanError if it, or a folder of
    versions in it, cannot be read."""
    models: dict[str, dict[str, Path]] = {}
    for entry in _list(folder):
        if _ignored(entry):
            continue
        try:
            is_file, is_bundle, is_dir = entry.is_file(), is_bundle_dir(entry), entry.is_dir()
        except OSError as e:
            raise ScanError(e.errno, f"cannot read {entry}: {e.strerror or e}") from e
        if is_file:
            if entry.suffix == ".zip":
                models.setdefault(entry.stem, {DEFAULT_VERSION: entry})
        elif is_bundle:
            models.setdefault(entry.name, {DEFAULT_VERSION: entry})
        elif is_dir:
            versions = scan_versions(entry)
            if versions:
                models.setdefault(entry.name, versions)
    return models


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
