"""Finding bundles on disk: model directories, folders of versions, and when a bundle has changed.

* A model directory (``--model-dir DIR``): every bundle in DIR is a model named after its file
  (``DIR/NAME.zip``, ``DIR/NAME/bundle.json``); a folder that is not a bundle holds versions.
* A folder of versions holds one entry per version: ``VERSION/`` (a bundle directory, or a folder
  with a single ``.zip`` or a single bundle directory) or ``VERSION.zip``.
* Hidden files, ``__pycache__`` and files being written or left by editors (``.tmp``, ``.part``,
  ``.partial``, ``.swp``, ``~``) are not bundles.
"""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_VERSION = "1"  # the version of a bundle named without one
_IGNORED_SUFFIXES = (".tmp", ".part", ".partial", ".swp", "~")


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


def scan_versions(folder: Path) -> dict[str, Path]:
    """version -> bundle path for a folder of versions."""
    out: dict[str, Path] = {}
    try:
        entries = sorted(folder.iterdir())
    except OSError:
        return out
    for entry in entries:
        if _ignored(entry):
            continue
        bundle = _version_bundle(entry)
        if bundle is not None:
            version = entry.stem if entry.is_file() else entry.name
            out.setdefault(version, bundle)
    return out


def scan_model_dir(folder: Path) -> dict[str, dict[str, Path]]:
    """name -> {version -> bundle path} for a model directory."""
    models: dict[str, dict[str, Path]] = {}
    try:
        entries = sorted(folder.iterdir())
    except OSError:
        return models
    for entry in entries:
        if _ignored(entry):
            continue
        if entry.is_file():
            if entry.suffix == ".zip":
                models.setdefault(entry.stem, {DEFAULT_VERSION: entry})
        elif is_bundle_dir(entry):
            models.setdefault(entry.name, {DEFAULT_VERSION: entry})
        elif entry.is_dir():
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
