"""Where a bundle's files come from: a zip file, a directory, or a MLeap-style URI.

Accepted sources (section 1.1 of the Bundle.ML reference):

* ``/path/model.zip`` or any file that is a zip archive;
* ``/path/dir`` (a bundle directory);
* ``jar:file:/path/model.zip`` and ``jar:file:/path/model.zip!/inner/dir``;
* ``file:/path/dir`` (``file:/path/model.zip`` is read as a zip, as MLeap's BundleFile does).

Paths inside a bundle are '/'-separated and relative to its root; nothing outside the root can
be read through a source.
"""

from __future__ import annotations

import os
import posixpath
import zipfile
from pathlib import Path
from urllib.parse import unquote, urlparse

from .errors import BundleError

# A single bundle file larger than this is refused instead of read (trees of big forests are a
# few MB; this leaves ample room). Overridable for unusual bundles.
MAX_FILE_BYTES = int(os.environ.get("LEAPSERVE_MAX_BUNDLE_FILE_BYTES", 1 << 30))


def _clean(relpath: str) -> str:
    norm = posixpath.normpath(relpath.replace("\\", "/")).lstrip("/")
    if norm == ".." or norm.startswith("../"):
        raise BundleError("path leaves the bundle root", path=relpath)
    return "" if norm == "." else norm


class BundleSource:
    """Read-only access to the files of one bundle, relative to its root."""

    description: str

    def read(self, relpath: str) -> bytes:
        raise NotImplementedError

    def exists(self, relpath: str) -> bool:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def where(self, relpath: str) -> str:
        """How to name a file of this bundle in messages."""
        raise NotImplementedError


class DirectorySource(BundleSource):
    def __init__(self, root: Path):
        self.root = root.resolve()
        self.description = str(self.root)

    def _path(self, relpath: str) -> Path:
        path = (self.root / _clean(relpath)).resolve()
        if path != self.root and self.root not in path.parents:
            raise BundleError("path leaves the bundle directory (symlink?)", path=self.where(relpath))
        return path

    def where(self, relpath: str) -> str:
        return os.path.join(self.description, relpath)

    def read(self, relpath: str) -> bytes:
        path = self._path(relpath)
        if not path.is_file():
            raise BundleError("file is missing", path=self.where(relpath))
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise BundleError(f"file is {size} bytes, over the limit of {MAX_FILE_BYTES}", path=self.where(relpath))
        return path.read_bytes()

    def exists(self, relpath: str) -> bool:
        try:
            return self._path(relpath).is_file()
        except BundleError:
            return False


class ZipSource(BundleSource):
    def __init__(self, zip_path: Path, inner: str = ""):
        self.zip_path = zip_path
        self.description = str(zip_path) + (f"!/{inner}" if inner else "")
        try:
            self._zip = zipfile.ZipFile(zip_path)
        except (zipfile.BadZipFile, OSError) as e:
            raise BundleError(f"not a readable zip archive ({e})", path=str(zip_path)) from None
        self._prefix = _clean(inner)
        # Entry names are looked up without a leading slash and without relying on directory entries.
        self._entries = {}
        for info in self._zip.infolist():
            if info.is_dir():
                continue
            self._entries[info.filename.replace("\\", "/").lstrip("/")] = info

    def _name(self, relpath: str) -> str:
        rel = _clean(relpath)
        return f"{self._prefix}/{rel}" if self._prefix else rel

    def where(self, relpath: str) -> str:
        return f"{self.description}!/{relpath}"

    def read(self, relpath: str) -> bytes:
        info = self._entries.get(self._name(relpath))
        if info is None:
            raise BundleError("file is missing", path=self.where(relpath))
        if info.file_size > MAX_FILE_BYTES:
            raise BundleError(f"entry is {info.file_size} bytes, over the limit of {MAX_FILE_BYTES}",
                              path=self.where(relpath))
        try:
            with self._zip.open(info) as fh:
                data = fh.read(MAX_FILE_BYTES + 1)
        except (zipfile.BadZipFile, OSError, EOFError, ValueError) as e:
            raise BundleError(f"cannot be read from the archive ({e})", path=self.where(relpath)) from None
        if len(data) > MAX_FILE_BYTES:
            raise BundleError(f"entry inflates beyond the limit of {MAX_FILE_BYTES} bytes", path=self.where(relpath))
        return data

    def exists(self, relpath: str) -> bool:
        try:
            return self._name(relpath) in self._entries
        except BundleError:
            return False

    def close(self) -> None:
        self._zip.close()


def open_source(source) -> BundleSource:
    """Open a bundle given as a path, a directory or a jar:file:/file: URI."""
    if isinstance(source, BundleSource):
        return source
    text = os.fspath(source)
    inner = ""
    if text.startswith("jar:"):
        text = text[len("jar:"):]
        if "!" in text:
            text, inner = text.split("!", 1)
        if not text.startswith("file:"):
            raise BundleError("only jar:file: URIs are supported", path=os.fspath(source))
        path = Path(unquote(urlparse(text).path))
        if not path.is_file():
            raise BundleError("zip file does not exist", path=str(path))
        return ZipSource(path, inner)
    if text.startswith("file:"):
        text = unquote(urlparse(text).path)
    path = Path(text)
    if path.is_dir():
        return DirectorySource(path)
    if path.is_file():
        if not zipfile.is_zipfile(path):
            raise BundleError("neither a bundle directory nor a zip archive", path=str(path))
        return ZipSource(path)
    raise BundleError("no such file or directory", path=str(path))
