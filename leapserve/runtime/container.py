"""Where a bundle's files come from: a zip file, a directory, or a MLeap-style URI.

Accepted sources (section 1.1 of the Bundle.ML reference):

* ``/path/model.zip`` or any file that is a zip archive;
* ``/path/dir`` (a bundle directory);
* ``jar:file:/path/model.zip`` and ``jar:file:/path/model.zip!/inner/dir``;
* ``file:/path/dir`` (``file:/path/model.zip`` is read as a zip, as MLeap's BundleFile does).

Paths inside a bundle are '/'-separated and relative to its root; nothing outside the root can
be read through a source. Bundles are untrusted input: zips are read in memory, never extracted,
and nothing is written anywhere. Sizes written in a zip are not trusted: every source counts the
bytes it actually reads and the files it opens, and refuses to go past the limits below.

Limits (environment variables, read when a bundle is opened; see docs/reliability.md):

========================================  ==========  =============================================
LEAPSERVE_MAX_BUNDLE_FILE_BYTES           128 MiB     bytes of one file of a bundle
LEAPSERVE_MAX_BUNDLE_BYTES                1 GiB       bytes read from one bundle in all (and the
                                                      largest zip file accepted)
LEAPSERVE_MAX_BUNDLE_ENTRIES              100000      entries of a zip / files read from a directory
                                                      (records counted in the central directory)
LEAPSERVE_MAX_BUNDLE_RATIO                1000        inflated / compressed bytes of a zip entry past
                                                      its first MiB
LEAPSERVE_MAX_BUNDLE_DEPTH                64          folders in a path inside a bundle
LEAPSERVE_MAX_ATTRIBUTE_LENGTH            16777216    values in one attribute list or tensor
LEAPSERVE_MAX_TREE_NODES                  1048576     nodes in one tree file
LEAPSERVE_MAX_VECTOR_SIZE                 16777216    the width of a vector a bundle declares (a
                                                      size attribute, a data shape, an op's output)
LEAPSERVE_MAX_TEXT_CACHE_BYTES            4 MiB       bytes of the strings one text op remembers
                                                      (stop words, HashingTF, FeatureHasher)
LEAPSERVE_MAX_STRING_LENGTH               1 MiB       characters of one string in a request (the
                                                      server refuses longer ones: INVALID_ARGUMENT)
LEAPSERVE_REGEX_TIMEOUT_MS                1000        milliseconds of CPU time a bundle's regular
                                                      expression may spend per MiB of a call's text
                                                      (RegexTokenizer)
========================================  ==========  =============================================
"""

from __future__ import annotations

import math
import os
import posixpath
import re
import stat
import string
import struct
import zipfile
import zlib
from dataclasses import dataclass, fields
from pathlib import Path
from urllib.parse import unquote, urlparse

from .errors import BundleError

# Kept for callers that read the module constant; the limit in force is limits().max_file_bytes.
MAX_FILE_BYTES = 128 << 20
_READ_CHUNK = 1 << 20
# A zip entry's local header: signature, versions, flags, method, time, date, CRC, sizes, and the
# lengths of the name and extra field that follow it.
_LOCAL_HEADER = struct.Struct("<4s5HI2I2H")
# A central directory record: 46 bytes, then a name, an extra field and a comment of up to 65535
# bytes each (their lengths at offsets 28, 30 and 32).
_CENTRAL_RECORD = 46
_CENTRAL_RECORD_MOST = _CENTRAL_RECORD + 3 * 0xFFFF
# An entry may inflate to this many bytes whatever its compression ratio (small files compress
# well: a JSON list of zeros deflates about 680:1).
RATIO_FREE_BYTES = 1 << 20


@dataclass(frozen=True)
class Limits:
    """How much of a bundle the runtime agrees to read, and what its ops may spend on a request
    (see the module docstring)."""

    max_file_bytes: int = MAX_FILE_BYTES
    max_total_bytes: int = 1 << 30
    max_entries: int = 100_000
    max_depth: int = 64
    max_attribute_length: int = 1 << 24
    max_tree_nodes: int = 1 << 20
    max_ratio: int = 1000
    max_vector_size: int = 1 << 24
    max_text_cache_bytes: int = 4 << 20
    max_string_length: int = 1 << 20
    regex_timeout_ms: int = 1000


ENV_VARS = {
    "max_file_bytes": "LEAPSERVE_MAX_BUNDLE_FILE_BYTES",
    "max_total_bytes": "LEAPSERVE_MAX_BUNDLE_BYTES",
    "max_entries": "LEAPSERVE_MAX_BUNDLE_ENTRIES",
    "max_depth": "LEAPSERVE_MAX_BUNDLE_DEPTH",
    "max_attribute_length": "LEAPSERVE_MAX_ATTRIBUTE_LENGTH",
    "max_tree_nodes": "LEAPSERVE_MAX_TREE_NODES",
    "max_ratio": "LEAPSERVE_MAX_BUNDLE_RATIO",
    "max_vector_size": "LEAPSERVE_MAX_VECTOR_SIZE",
    "max_text_cache_bytes": "LEAPSERVE_MAX_TEXT_CACHE_BYTES",
    "max_string_length": "LEAPSERVE_MAX_STRING_LENGTH",
    "regex_timeout_ms": "LEAPSERVE_REGEX_TIMEOUT_MS",
}


# A limit's value: a decimal number in ASCII (float() would also take other scripts' digits, Kawi's
# from Python 3.12 on, "inf" and "1_000"), then an optional K, M or G and B or iB.
_SIZE = re.compile(r"((?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:E[+-]?[0-9]+)?)([KMG]?)(?:I?B)?")


def parse_size(text: str, example: str = "1000, 64M, 1G") -> int:
    """A size in bytes: 16777216, 16M, 64MiB, 1G, 1.5K. Raises ValueError saying what is wrong
    ("is not a number (e.g. ``example``)", "is too large", "must be positive"). Limits and the
    server's size flags read sizes alike on every Python."""
    m = _SIZE.fullmatch(text.strip().upper()) if text.isascii() else None
    if m is None:
        raise ValueError(f"is not a number (e.g. {example})")
    factor = 1024 ** ("KMG".index(m.group(2)) + 1) if m.group(2) else 1
    size = float(m.group(1)) * factor
    if size == math.inf:
        raise ValueError("is too large")
    if int(size) <= 0:
        raise ValueError("must be positive")
    return int(size)


# Examples for the limits that are no sizes (the error message's "e.g. ...").
_EXAMPLES = {"LEAPSERVE_REGEX_TIMEOUT_MS": "500 or 2000, in milliseconds"}


def _env_size(var: str, default: int) -> int:
    raw = os.environ.get(var)
    if raw is None or not raw.strip():
        return default
    try:
        return parse_size(raw, _EXAMPLES.get(var, "1000, 64M, 1G"))
    except ValueError as e:
        raise BundleError(f"{var}={raw!r} {e}") from None


def limits() -> Limits:
    """The limits in force: the LEAPSERVE_* environment variables over the defaults."""
    defaults = Limits()
    return Limits(**{f.name: _env_size(ENV_VARS[f.name], getattr(defaults, f.name)) for f in fields(Limits)})


def check_limits_env() -> str | None:
    """A message if a LEAPSERVE_* limit variable is malformed (for start-up checks), else None."""
    try:
        limits()
    except BundleError as e:
        return str(e)
    return None


def _clean(relpath: str, max_depth: int | None = None) -> str:
    if "\x00" in relpath:
        raise BundleError("path holds a NUL character", path=relpath.replace("\x00", "\\0"))
    norm = posixpath.normpath(relpath.replace("\\", "/")).lstrip("/")
    if norm == ".." or norm.startswith("../"):
        raise BundleError("path leaves the bundle root", path=relpath)
    norm = "" if norm == "." else norm
    if max_depth is not None and norm.count("/") > max_depth:
        raise BundleError(f"path is nested deeper than {max_depth} folders (LEAPSERVE_MAX_BUNDLE_DEPTH)",
                          path=relpath[:200])
    return norm


def _unsafe_entry_name(name: str) -> str | None:
    """Why a zip entry's name could not be extracted safely (zip-slip), or None."""
    if "\x00" in name:
        return "holds a NUL character"
    text = name.replace("\\", "/")
    if text.startswith("/"):
        return "is an absolute path"
    if len(text) >= 2 and text[1] == ":" and text[0] in string.ascii_letters:  # only A: to Z: are drives
        return "starts with a drive letter"
    if ".." in text.split("/"):
        return "climbs out of the archive with '..'"
    return None


def _check_unicode_path_field(info: zipfile.ZipInfo) -> None:
    """Refuse a damaged Unicode Path extra field (0x7075) as zipfile does while reading the central
    directory from Python 3.12 on (BadZipFile, same messages), so that 3.11 refuses it too."""
    extra = info.extra
    while len(extra) >= 4:
        kind, length = struct.unpack("<HH", extra[:4])
        if length + 4 > len(extra):
            return  # zipfile's own "Corrupt extra field" (every Python) speaks for it
        if kind == 0x7075:
            data = extra[4:length + 4]
            if len(data) < 5:
                raise zipfile.BadZipFile("Corrupt unicode path extra field (0x7075)")
            version, name_crc = struct.unpack("<BL", data[:5])
            raw_name = info.orig_filename.encode("utf-8" if info.flag_bits & 0x800 else "cp437")
            if version == 1 and name_crc == zlib.crc32(raw_name):
                try:
                    data[5:].decode("utf-8")
                except UnicodeDecodeError:
                    raise zipfile.BadZipFile("Corrupt unicode path extra field (0x7075): invalid utf-8 bytes") from None
        extra = extra[length + 4:]


class BundleSource:
    """Read-only access to the files of one bundle, relative to its root.

    Every read counts towards the bundle's limits (files opened, bytes read in all)."""

    description: str
    limits: Limits

    def _start_budget(self, lim: Limits | None) -> None:
        self.limits = lim if lim is not None else limits()
        self.bytes_read = 0
        self.files_read = 0

    def _charge(self, relpath: str, size: int) -> None:
        """Count one file of ``size`` bytes; refuse it when over the file or bundle limits."""
        lim = self.limits
        if size > lim.max_file_bytes:
            raise BundleError(f"file is larger than the limit of {lim.max_file_bytes} bytes "
                              "(LEAPSERVE_MAX_BUNDLE_FILE_BYTES)", path=self.where(relpath))
        if self.bytes_read + size > lim.max_total_bytes:
            raise BundleError(f"reading this file takes the bundle past {lim.max_total_bytes} bytes read "
                              "(LEAPSERVE_MAX_BUNDLE_BYTES)", path=self.where(relpath))

    def _count_file(self, relpath: str) -> None:
        self.files_read += 1
        if self.files_read > self.limits.max_entries:
            raise BundleError(f"the bundle needs more than {self.limits.max_entries} files "
                              "(LEAPSERVE_MAX_BUNDLE_ENTRIES)", path=self.where(relpath))

    def _budget(self) -> int:
        """The most bytes the next file may have: the file limit, or what is left of the bundle's."""
        lim = self.limits
        return min(lim.max_file_bytes, lim.max_total_bytes - self.bytes_read)

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
    """A bundle directory. Symbolic links are followed only when they stay inside the bundle;
    only regular files are read (a FIFO or a device would block or never end)."""

    def __init__(self, root: Path, lim: Limits | None = None):
        self._start_budget(lim)
        self.root = root.resolve()
        self.description = str(self.root)

    def _path(self, relpath: str) -> Path:
        try:
            path = (self.root / _clean(relpath, self.limits.max_depth)).resolve()
        except RuntimeError:  # a loop of symbolic links, up to Python 3.12
            raise BundleError("path cannot be resolved (a loop of symbolic links)", path=self.where(relpath)) from None
        except OSError as e:
            raise BundleError(f"path cannot be resolved ({e})", path=self.where(relpath)) from None
        if path.is_symlink():  # from Python 3.13 resolve() stops at a loop instead of raising
            raise BundleError("path cannot be resolved (a loop of symbolic links)", path=self.where(relpath))
        if path != self.root and self.root not in path.parents:
            raise BundleError("path leads outside the bundle directory (a symbolic link?)",
                              path=self.where(relpath))
        return path

    def where(self, relpath: str) -> str:
        return os.path.join(self.description, relpath)

    def read(self, relpath: str) -> bytes:
        path = self._path(relpath)
        self._count_file(relpath)
        flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0)
        try:
            fd = os.open(path, flags)
        except FileNotFoundError:
            raise BundleError("file is missing", path=self.where(relpath)) from None
        except OSError as e:
            # ELOOP: the resolved path became a symbolic link after it was checked.
            raise BundleError(f"cannot be opened ({e.strerror or e})", path=self.where(relpath)) from None
        try:
            st = os.fstat(fd)
            if stat.S_ISDIR(st.st_mode):
                raise BundleError("file is missing (a folder has its name)", path=self.where(relpath))
            if not stat.S_ISREG(st.st_mode):
                raise BundleError("is not a regular file", path=self.where(relpath))
            self._charge(relpath, st.st_size)
            # The file may grow while it is read: never read past the budget, whatever stat said.
            budget = self._budget()
            chunks, got = [], 0
            while got <= budget:
                chunk = os.read(fd, min(_READ_CHUNK, budget + 1 - got))
                if not chunk:
                    break
                chunks.append(chunk)
                got += len(chunk)
        except OSError as e:
            raise BundleError(f"cannot be read ({e.strerror or e})", path=self.where(relpath)) from None
        finally:
            os.close(fd)
        if got > budget:
            self._charge(relpath, got)  # raises, naming the limit
        self.bytes_read += got
        return b"".join(chunks)

    def exists(self, relpath: str) -> bool:
        try:
            return self._path(relpath).is_file()
        except (BundleError, OSError, ValueError):
            return False


class ZipSource(BundleSource):
    """A zip archive (or a folder inside one), read in memory: nothing is extracted.

    The archive is refused as a whole when an entry's name could not be extracted safely
    (absolute, '..', a drive letter: zip-slip) or appears twice, or when it has more entries
    than allowed. The sizes it declares are not trusted: reads stop at the limits whatever the
    entries claim. An entry whose data would reach into the next entry's local header (or the
    central directory) is refused when read, as zipfile does from Python 3.11.8, 3.12.2 and 3.13
    on ("Overlapped entries", CPython gh-109858: overlapping entries make zip bombs) and as
    earlier patch releases did not; checked here so that every Python refuses the same archives."""

    def __init__(self, zip_path, inner: str = "", lim: Limits | None = None):
        self._start_budget(lim)
        self.zip_path = zip_path
        name = zip_path if isinstance(zip_path, (str, os.PathLike)) else getattr(zip_path, "name", "<zip in memory>")
        self.description = str(name) + (f"!/{inner}" if inner else "")
        self._prefix = _clean(inner, self.limits.max_depth)
        self._check_archive_size(zip_path)
        try:
            self._zip = zipfile.ZipFile(zip_path)
        except Exception as e:  # whatever a damaged central directory makes zipfile raise
            raise BundleError(f"not a readable zip archive ({type(e).__name__}: {e})", path=str(name)) from None
        try:
            for info in self._zip.infolist():
                _check_unicode_path_field(info)
        except zipfile.BadZipFile as e:
            self._zip.close()
            raise BundleError(f"not a readable zip archive (BadZipFile: {e})", path=str(name)) from None
        try:
            self._index()
        except BaseException:
            self._zip.close()
            raise

    def _check_archive_size(self, zip_path) -> None:
        lim = self.limits
        try:
            size = os.stat(zip_path).st_size
        except (OSError, TypeError, ValueError):
            size = None  # a file object
        if size is not None and size > lim.max_total_bytes:
            raise BundleError(f"zip archive is {size} bytes, over the limit of {lim.max_total_bytes} bytes "
                              "(LEAPSERVE_MAX_BUNDLE_BYTES)", path=self.description)
        # The entry count is read from the end record, and the records of the central directory
        # counted, before Python builds an object per entry.
        try:
            if size is None:
                self._check_central_directory(zip_path, None)
                zip_path.seek(0)
            else:
                with open(zip_path, "rb") as fh:
                    self._check_central_directory(fh, size)
        except OSError:
            pass  # ZipFile will say what is wrong

    def _check_central_directory(self, fh, size: int | None) -> None:
        """Refuse an archive whose end record declares too many entries, or a central directory
        larger than the entries it declares can fill (each record is at most 46 bytes and three
        fields of 65535) or than the archive itself, or whose central directory holds more records
        than allowed, whatever its end record says: zipfile reads the whole central directory and
        builds an object per record, counting nothing."""
        lim = self.limits
        try:
            end = zipfile._EndRecData(fh)
        except Exception:  # a damaged end record: ZipFile will say so
            return
        if not end:
            return
        declared = end[zipfile._ECD_ENTRIES_TOTAL]
        if declared > lim.max_entries:
            raise BundleError(f"zip archive declares {declared} entries, over the limit "
                              f"of {lim.max_entries} (LEAPSERVE_MAX_BUNDLE_ENTRIES)", path=self.description)
        cd_size = end[zipfile._ECD_SIZE]
        if size is None:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
        most = max(declared, end[zipfile._ECD_ENTRIES_THIS_DISK]) * _CENTRAL_RECORD_MOST
        if cd_size > min(most, size):
            raise BundleError(f"zip archive's central directory is {cd_size} bytes, more than the "
                              f"{declared} entries it declares can fill ({most} bytes) or the archive holds "
                              f"({size} bytes)", path=self.description)
        start = end[zipfile._ECD_LOCATION] - cd_size
        if end[zipfile._ECD_SIGNATURE] == zipfile.stringEndArchive64:
            start -= zipfile.sizeEndCentDir64 + zipfile.sizeEndCentDir64Locator
        if start < 0:
            return  # zipfile: "Bad offset for central directory"
        fh.seek(start)
        records, pos = 0, 0
        while pos + _CENTRAL_RECORD <= cd_size:
            header = fh.read(_CENTRAL_RECORD)
            if len(header) != _CENTRAL_RECORD or header[:4] != b"PK\x01\x02":
                return  # zipfile: "Truncated central directory", "Bad magic number..."
            records += 1
            if records > lim.max_entries:
                raise BundleError(f"zip archive's central directory holds more than {lim.max_entries} entries "
                                  f"(it declares {declared}; LEAPSERVE_MAX_BUNDLE_ENTRIES)", path=self.description)
            name, extra, comment = struct.unpack_from("<3H", header, 28)
            skip = name + extra + comment
            fh.seek(skip, os.SEEK_CUR)
            pos += _CENTRAL_RECORD + skip

    def _index(self) -> None:
        lim = self.limits
        infos = self._zip.infolist()
        if len(infos) > lim.max_entries:
            raise BundleError(f"zip archive has {len(infos)} entries, over the limit of {lim.max_entries} "
                              "(LEAPSERVE_MAX_BUNDLE_ENTRIES)", path=self.description)
        max_folders = lim.max_depth + (self._prefix.count("/") + 1 if self._prefix else 0)
        # Where each entry must end: the next local header, or the central directory after the last.
        self._ends: dict[zipfile.ZipInfo, int] = {}
        end = self._zip.start_dir
        for info in sorted(infos, key=lambda i: i.header_offset, reverse=True):
            self._ends[info] = end
            end = info.header_offset
        # Entry names are looked up without relying on directory entries.
        self._entries: dict[str, zipfile.ZipInfo] = {}
        for info in infos:
            # The name in the central directory, on every Python: from 3.12 on, ZipInfo.filename is
            # replaced by a Unicode Path extra field (0x7075) when there is one (Java ignores it),
            # and it is cut at a NUL character on all.
            entry = info.orig_filename
            why = _unsafe_entry_name(entry)
            if why:
                shown = entry.replace("\x00", "\\0")[:200]
                raise BundleError(f"entry {shown!r} {why}: refusing the archive (zip-slip)", path=self.description)
            name = entry.replace("\\", "/").lstrip("/")
            is_dir = entry.endswith(("/", "\\"))  # not ZipInfo.is_dir: it fails on empty names
            parts = [p for p in name.split("/") if p]
            folders = len(parts) - (0 if is_dir else 1)
            if folders > max_folders:
                raise BundleError(f"entry {name[:200]!r} is nested deeper than {lim.max_depth} folders "
                                  "(LEAPSERVE_MAX_BUNDLE_DEPTH)", path=self.description)
            if is_dir or not name:
                continue
            if name in self._entries:
                raise BundleError(f"entry {name[:200]!r} appears twice in the archive", path=self.description)
            self._entries[name] = info

    def _name(self, relpath: str) -> str:
        rel = _clean(relpath, self.limits.max_depth)
        return f"{self._prefix}/{rel}" if self._prefix else rel

    def where(self, relpath: str) -> str:
        return f"{self.description}!/{relpath}"

    def read(self, relpath: str) -> bytes:
        info = self._entries.get(self._name(relpath))
        if info is None:
            raise BundleError("file is missing", path=self.where(relpath))
        self._count_file(relpath)
        self._check_no_overlap(info, relpath)
        # The declared size is checked first (cheap) but not trusted: the read itself is bounded.
        self._charge(relpath, info.file_size)
        # The compressed size is real (the entry's data lie within the archive: checked above).
        most = max(RATIO_FREE_BYTES, info.compress_size * self.limits.max_ratio)
        if info.file_size > most:
            raise BundleError(self._ratio_message(info, f"{info.file_size} bytes (declared)"), path=self.where(relpath))
        budget = self._budget()
        try:
            with self._zip.open(info) as fh:
                data = fh.read(min(budget, most) + 1)
        except Exception as e:
            # BadZipFile (bad CRC, truncated data), zlib errors, RuntimeError (encrypted entries),
            # NotImplementedError (unknown compression methods), ...
            raise BundleError(f"cannot be read from the archive ({type(e).__name__}: {e})",
                              path=self.where(relpath)) from None
        if len(data) > most:
            raise BundleError(self._ratio_message(info, f"more than {most} bytes"), path=self.where(relpath))
        if len(data) > budget:
            raise BundleError(f"entry inflates past {budget} bytes (declared {info.file_size}): over the "
                              "LEAPSERVE_MAX_BUNDLE_FILE_BYTES / LEAPSERVE_MAX_BUNDLE_BYTES limits",
                              path=self.where(relpath))
        self.bytes_read += len(data)
        return data

    def _ratio_message(self, info: zipfile.ZipInfo, inflated: str) -> str:
        return (f"entry inflates {info.compress_size} compressed bytes to {inflated}, over the compression "
                f"ratio limit of {self.limits.max_ratio}:1 for entries past {RATIO_FREE_BYTES} bytes "
                "(LEAPSERVE_MAX_BUNDLE_RATIO)")

    def _check_no_overlap(self, info: zipfile.ZipInfo, relpath: str) -> None:
        """Refuse an entry whose compressed data, after its local header, runs past where the next
        entry begins (the test of zipfile's open from 3.11.8/3.12.2/3.13 on), or whose local
        header lies outside the entries' data: before the archive's start (zipfile shifts every
        offset by the bytes it finds before the central directory, and a damaged end record makes
        that shift negative) or past the central directory (a ZIP64 field can say up to 2^64 - 1,
        where seeking fails)."""
        if not 0 <= info.header_offset < self._zip.start_dir:
            raise BundleError(f"entry's local header offset is {info.header_offset}, outside the entries' data "
                              f"(0 to {self._zip.start_dir}): a damaged central directory", path=self.where(relpath))
        with self._zip._lock:  # the archive's file is shared with zipfile's readers
            self._zip.fp.seek(info.header_offset)
            header = self._zip.fp.read(_LOCAL_HEADER.size)
        if len(header) != _LOCAL_HEADER.size or header[:4] != b"PK\x03\x04":
            return  # zipfile.open refuses it ("Bad magic number for file header")
        name_length, extra_length = _LOCAL_HEADER.unpack(header)[-2:]
        data_start = info.header_offset + _LOCAL_HEADER.size + name_length + extra_length
        if data_start + info.compress_size > self._ends[info]:
            raise BundleError("entry overlaps the next one in the archive (overlapping entries: a zip bomb?)",
                              path=self.where(relpath))

    def exists(self, relpath: str) -> bool:
        try:
            return self._name(relpath) in self._entries
        except BundleError:
            return False

    def close(self) -> None:
        self._zip.close()


def open_source(source, lim: Limits | None = None) -> BundleSource:
    """Open a bundle given as a path, a directory or a jar:file:/file: URI (``lim``: the limits
    to apply, by default those of the environment)."""
    if isinstance(source, BundleSource):
        return source
    text = os.fspath(source)
    if "\x00" in text:
        raise BundleError("path holds a NUL character", path=text.replace("\x00", "\\0"))
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
        return ZipSource(path, inner, lim)
    if text.startswith("file:"):
        text = unquote(urlparse(text).path)
    path = Path(text)
    if path.is_dir():
        return DirectorySource(path, lim)
    if path.is_file():
        if not zipfile.is_zipfile(path):
            raise BundleError("neither a bundle directory nor a zip archive", path=str(path))
        return ZipSource(path, "", lim)
    if path.exists():
        raise BundleError("neither a bundle directory nor a zip archive (not a regular file)", path=str(path))
    raise BundleError("no such file or directory", path=str(path))
