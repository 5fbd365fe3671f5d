"""The catalogue of hostile and broken bundles: each case builds one bundle (zip, directory or URI)
and says which error the runtime must answer with and which file that error must name.

Starting points are real bundles: MLeap's airbnb random forest (JSON format: string indexers,
assemblers, a scaler, 20 tree files) and small protobuf and JSON bundles written by hand.
"""

from __future__ import annotations

import json
import os
import struct
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from tests.support.bundles import (
    ASSEMBLER, FP, RF, RF_ZIP, SCALER, STATE, deflate, deflated_member, edit_json, entries_of, fifo, json_lr_entries,
    nested_pipeline_entries, pb_lr_entries, raw_zip, stored_member, write_dir, write_zip, zeros_deflated,
)
from leapserve.bundleml import bundle_pb2 as pb


@dataclass(frozen=True)
class Case:
    id: str
    build: Callable[[Path], object]  # tmp folder -> bundle source (path or URI)
    expect: str                      # a fragment of the error message
    names: str                       # the file the message must name (a fragment of its path)
    env: dict = field(default_factory=dict)
    dir_only: bool = False           # needs a directory (symlinks, FIFOs): no zip variant

    @property
    def kind(self) -> str:
        return "directory" if self.dir_only else "zip"


def rf() -> dict:
    return entries_of(RF_ZIP)


def _zip(entries_fn, name="bundle.zip", stored=False):
    def build(tmp: Path):
        return write_zip(tmp / name, entries_fn(), compression=zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED)
    return build


def _edit(name: str, fn, base=rf):
    return _zip(lambda: edit_json(base(), name, fn))


def _replace(name: str, data: bytes, base=rf):
    return _zip(lambda: {**base(), name: data})


def _drop(name: str, base=rf):
    return _zip(lambda: {k: v for k, v in base().items() if k != name})


def _set_attr(node: str, attr: str, value):
    def fn(doc):
        doc["attributes"][attr] = value
    return _edit(f"{node}/model.json", fn)


def _lines(node: str, fn):
    """Edit the lines of a tree.json."""
    def build(tmp):
        e = rf()
        name = f"{node}/tree.json"
        lines = e[name].decode().splitlines()
        e[name] = "\n".join(fn(lines)).encode()
        return write_zip(tmp / "bundle.zip", e)
    return build


def _tree_node(node: str, index: int, fn):
    def edit(lines):
        doc = json.loads(lines[index])
        fn(doc)
        lines[index] = json.dumps(doc)
        return lines
    return _lines(node, edit)


# --- zip containers ----------------------------------------------------------------------------

def _raw(members_fn, name="bundle.zip"):
    def build(tmp: Path):
        return raw_zip(tmp / name, members_fn())
    return build


def _rf_members(extra=(), replace: dict | None = None):
    out = []
    for name, data in rf().items():
        if replace and name in replace:
            out.append(replace[name])
        else:
            out.append(deflated_member(name, data))
    return out + list(extra)


def _central_record(data: bytearray, name: str) -> int:
    """Where ``name``'s record starts in the central directory of the zip ``data``."""
    end = data.rindex(b"PK\x05\x06")
    record, = struct.unpack_from("<I", data, end + 16)
    while True:
        name_length, extra_length, comment_length = struct.unpack_from("<3H", data, record + 28)
        if data[record + 46:record + 46 + name_length] == name.encode():
            return record
        record += 46 + name_length + extra_length + comment_length


def _patch_method(tmp: Path) -> Path:
    """The RF bundle with root/model.json's compression method set to 99 (unknown), in its local
    header and in its central directory record."""
    path = write_zip(tmp / "bundle.zip", rf())
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as z:
        info = z.getinfo("root/model.json")
    data[info.header_offset + 8:info.header_offset + 10] = (99).to_bytes(2, "little")
    pos = _central_record(data, "root/model.json")
    data[pos + 10:pos + 12] = (99).to_bytes(2, "little")
    path.write_bytes(bytes(data))
    return path


def _corrupt_data(tmp: Path) -> Path:
    path = write_zip(tmp / "bundle.zip", rf())
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as z:
        info = z.getinfo(f"{RF}/model.json")
    start = info.header_offset + 30 + len(info.filename.encode())
    for i in range(start + 2, start + min(info.compress_size, 40)):
        data[i] ^= 0x5A
    path.write_bytes(bytes(data))
    return path


def _overlapping(tmp: Path) -> Path:
    """The RF bundle with root/model.json's compressed size raised by 16 in the central directory:
    its data now reach into the next entry's local header. The deflate stream ends before, so
    zipfile reads it whole and the bundle loads, unless zipfile checks for overlapping entries
    (Python 3.11.8, 3.12.2, 3.13 and later do; 3.11.7 and 3.12.1 do not)."""
    path = write_zip(tmp / "bundle.zip", rf())
    data = bytearray(path.read_bytes())
    pos = _central_record(data, "root/model.json")
    size = int.from_bytes(data[pos + 20:pos + 24], "little")
    data[pos + 20:pos + 24] = (size + 16).to_bytes(4, "little")
    path.write_bytes(bytes(data))
    return path


def _shifted_central_directory(tmp: Path) -> Path:
    """The RF bundle with the end record's central directory offset raised by 1 MB: zipfile takes
    the difference for bytes prepended to the archive and shifts every local header offset by
    -1 MB, before the start of the file."""
    path = write_zip(tmp / "bundle.zip", rf())
    data = bytearray(path.read_bytes())
    end = data.rindex(b"PK\x05\x06")
    offset, = struct.unpack_from("<I", data, end + 16)
    struct.pack_into("<I", data, end + 16, offset + (1 << 20))
    path.write_bytes(bytes(data))
    return path


def _zip64_header_offset(tmp: Path) -> Path:
    """The RF bundle with bundle.json's local header offset set to 2^63 by a ZIP64 extra field
    (0x0001) in its central directory record, which zipfile takes as it is."""
    path = write_zip(tmp / "bundle.zip", rf())
    data = bytearray(path.read_bytes())
    end = data.rindex(b"PK\x05\x06")
    cd_size, = struct.unpack_from("<I", data, end + 12)
    record = _central_record(data, "bundle.json")
    name_length, extra_length = struct.unpack_from("<2H", data, record + 28)
    struct.pack_into("<I", data, record + 42, 0xFFFFFFFF)
    struct.pack_into("<H", data, record + 30, extra_length + 12)
    at = record + 46 + name_length + extra_length
    data[at:at] = struct.pack("<HHQ", 0x0001, 8, 1 << 63)
    struct.pack_into("<I", data, end + 12 + 12, cd_size + 12)  # the end record, 12 bytes further on
    path.write_bytes(bytes(data))
    return path


def unicode_path_field(tmp: Path, entry: str, payload: bytes) -> Path:
    """The RF bundle with an Info-ZIP Unicode Path extra field (0x7075) holding ``payload`` on
    ``entry``: zipfile reads it from Python 3.12 on (a field naming the entry anew renames it; a
    damaged one is a BadZipFile), 3.11's does not look at it, nor does Java's."""
    path = tmp / "bundle.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in rf().items():
            info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            if name == entry:
                info.extra = struct.pack("<HH", 0x7075, len(payload)) + payload
            z.writestr(info, data)
    return path


def _padded_json(name: str, padding: int):
    """The RF bundle with ``padding`` spaces after the JSON of ``name`` (valid JSON; deflated
    1028:1, honest sizes and checksum)."""
    def members():
        data = rf()[name] + b" " * padding
        return _rf_members(replace={name: deflated_member(name, data)})
    return _raw(members)


def declaring(path: Path, entries: int) -> Path:
    """Rewrite the end record (and the zip64 one, if any) of ``path`` to declare ``entries``
    entries; the central directory keeps all its records."""
    data = bytearray(path.read_bytes())
    end = data.rindex(b"PK\x05\x06")
    if data.rfind(b"PK\x06\x06") >= 0:
        end64 = data.rindex(b"PK\x06\x06")
        struct.pack_into("<QQ", data, end64 + 24, entries, entries)
    else:
        struct.pack_into("<HH", data, end + 8, entries, entries)
    path.write_bytes(bytes(data))
    return path


def _declaring(entries_fn, entries: int, stored=False):
    def build(tmp: Path):
        return declaring(_zip(entries_fn, stored=stored)(tmp), entries)
    return build


def _truncated(fraction):
    def build(tmp: Path):
        full = write_zip(tmp / "full.zip", rf()).read_bytes()
        path = tmp / "bundle.zip"
        path.write_bytes(full[:int(len(full) * fraction)] if fraction < 1 else full[:10])
        return path
    return build


def _nested_zips(tmp: Path) -> Path:
    """A 42.zip-like stack: zips of zips of 10 MB of zeros, never opened by the runtime."""
    inner = tmp / "l0.zip"
    raw_zip(inner, [("zeros.bin", zeros_deflated(10 << 20), zipfile.ZIP_DEFLATED,
                     zlib.crc32(bytes(10 << 20)), 10 << 20)])
    for level in range(1, 4):
        data = inner.read_bytes()
        inner = write_zip(tmp / f"l{level}.zip", [(f"layer{level}/{i}.zip", data) for i in range(8)])
    return inner


ZIP_CASES = [
    Case("zip-slip: '..' entry", _zip(lambda: {**rf(), "../../evil.json": b"{}"}),
         "climbs out of the archive", "bundle.zip"),
    Case("zip-slip: absolute entry", _raw(lambda: _rf_members([stored_member("/tmp/evil.json", b"{}")])),
         "is an absolute path", "bundle.zip"),
    Case("zip-slip: backslashes", _raw(lambda: _rf_members([stored_member("..\\..\\evil.json", b"{}")])),
         "climbs out of the archive", "bundle.zip"),
    Case("zip-slip: drive letter", _raw(lambda: _rf_members([stored_member("C:/evil.json", b"{}")])),
         "drive letter", "bundle.zip"),
    Case("zip-slip: NUL in an entry name (zipfile cuts the name there)",
         _raw(lambda: _rf_members([stored_member("root/x\x00../../evil.json", b"{}")])),
         "holds a NUL character", "bundle.zip"),
    Case("zip: damaged Unicode Path extra field (0x7075)",
         lambda tmp: unicode_path_field(tmp, "root/model.json", b"\x01\x00"),
         "not a readable zip archive (BadZipFile: Corrupt unicode path extra field (0x7075))", "bundle.zip"),
    Case("duplicate entry", _zip(lambda: [*rf().items(), ("root/model.json", b"{}")]),
         "appears twice", "bundle.zip"),
    Case("zip bomb: lying header (declares 100 bytes, inflates to 64 MB: only 100 are read)",
         _raw(lambda: _rf_members(replace={"root/model.json": (
             "root/model.json", zeros_deflated(64 << 20), zipfile.ZIP_DEFLATED, zlib.crc32(bytes(100)), 100)})),
         "invalid JSON", "bundle.zip!/root/model.json"),
    Case("zip bomb: lying header and checksum (declares 1000 bytes, inflates to 64 MB)",
         _raw(lambda: _rf_members(replace={"root/model.json": (
             "root/model.json", zeros_deflated(64 << 20), zipfile.ZIP_DEFLATED, 12345, 1000)})),
         "cannot be read from the archive", "bundle.zip!/root/model.json"),
    Case("zip bomb: declares 4 GB", _raw(lambda: _rf_members(replace={"root/model.json": (
        "root/model.json", deflate(b"{}"), zipfile.ZIP_DEFLATED, zlib.crc32(b"{}"), 0xFFFFFFF0)})),
         "larger than the limit", "bundle.zip!/root/model.json"),
    Case("zip bomb: overlapping entries (a compressed size reaching into the next entry)", _overlapping,
         "entry overlaps the next one", "bundle.zip!/root/model.json"),
    Case("zip: central directory offset past the data (local headers before the archive's start)",
         _shifted_central_directory, "outside the entries' data", "bundle.zip!/bundle.json"),
    Case("zip: ZIP64 local header offset of 2^63", _zip64_header_offset, "offset is 9223372036854775808, outside",
         "bundle.zip!/bundle.json"),
    Case("zip bomb: 256 MB of zeros in a tree file (default limits)",
         _raw(lambda: _rf_members(replace={f"{RF}/tree0/tree.json": (
             f"{RF}/tree0/tree.json", zeros_deflated(256 << 20, 1), zipfile.ZIP_DEFLATED, 0, 256 << 20)})),
         "larger than the limit of 134217728 bytes", f"bundle.zip!/{RF}/tree0/tree.json"),
    Case("zip bomb: 8 MB entry over LEAPSERVE_MAX_BUNDLE_FILE_BYTES=1M",
         _raw(lambda: _rf_members(replace={f"{RF}/tree0/tree.json": (
             f"{RF}/tree0/tree.json", zeros_deflated(8 << 20), zipfile.ZIP_DEFLATED, 0, 8 << 20)})),
         "larger than the limit of 1048576 bytes", f"{RF}/tree0/tree.json",
         env={"LEAPSERVE_MAX_BUNDLE_FILE_BYTES": "1M"}),
    Case("total bytes over LEAPSERVE_MAX_BUNDLE_BYTES=50K", _zip(rf), "past 51200 bytes read", "bundle.zip!/",
         env={"LEAPSERVE_MAX_BUNDLE_BYTES": "50K"}),
    Case("entries over LEAPSERVE_MAX_BUNDLE_ENTRIES=50", _zip(rf), "entries, over the limit of 50", "bundle.zip",
         env={"LEAPSERVE_MAX_BUNDLE_ENTRIES": "50"}),
    Case("100 000 tiny entries (default limits)",
         _zip(lambda: [*rf().items(), *((f"junk/{i}", b"") for i in range(100_001))], stored=True),
         "over the limit of 100000", "bundle.zip"),
    Case("zip bomb: 64 MB of JSON in 63 KB (compression ratio over 1000:1)",
         _padded_json(f"{SCALER}/model.json", 64 << 20),
         "over the compression ratio limit of 1000:1", f"bundle.zip!/{SCALER}/model.json"),
    Case("zip: compression ratio over LEAPSERVE_MAX_BUNDLE_RATIO=100",
         _padded_json(f"{SCALER}/model.json", 4 << 20), "over the compression ratio limit of 100:1",
         f"bundle.zip!/{SCALER}/model.json", env={"LEAPSERVE_MAX_BUNDLE_RATIO": "100"}),
    Case("zip bomb: central directory of 100 001 entries, end record declaring 1",
         _declaring(lambda: [*rf().items(), *((f"junk/{i}", b"") for i in range(100_001))], 1, stored=True),
         "central directory is", "bundle.zip"),
    Case("zip: central directory holds more entries than declared, over LEAPSERVE_MAX_BUNDLE_ENTRIES=50",
         _declaring(rf, 10), "central directory holds more than 50 entries (it declares 10", "bundle.zip",
         env={"LEAPSERVE_MAX_BUNDLE_ENTRIES": "50"}),
    Case("deep folder nesting", _zip(lambda: {**rf(), "a/" * 100 + "x.json": b"{}"}),
         "nested deeper than 64 folders", "bundle.zip"),
    Case("nested zips (42.zip-like, never opened)", _nested_zips, "bundle.json: file is missing", "l3.zip"),
    Case("truncated zip (half)", _truncated(0.5), "zip", "bundle.zip"),
    Case("truncated zip (95%)", _truncated(0.95), "zip", "bundle.zip"),
    Case("truncated zip (10 bytes)", _truncated(2), "zip", "bundle.zip"),
    Case("empty file", lambda tmp: (tmp / "bundle.zip").write_bytes(b"") or tmp / "bundle.zip",
         "neither a bundle directory nor a zip archive", "bundle.zip"),
    Case("corrupt compressed data", _corrupt_data, "cannot be read from the archive", f"{RF}/model.json"),
    Case("unknown compression method", _patch_method, "cannot be read from the archive", "root/model.json"),
    Case("jar: URI with .. stays inside the archive",
         lambda tmp: f"jar:file:{write_zip(tmp / 'bundle.zip', rf())}!/../../etc",
         "file is missing", "../../etc!/bundle.json"),
]


# --- directory bundles ---------------------------------------------------------------------------

def _dir(tmp: Path) -> Path:
    return write_dir(tmp / "bundle", rf())


def _symlink_file_outside(tmp: Path) -> Path:
    d = _dir(tmp)
    outside = tmp / "outside-model.json"
    outside.write_bytes(rf()["root/model.json"])
    (d / "root/model.json").unlink()
    os.symlink(outside, d / "root/model.json")
    return d


def _symlink_dir_outside(tmp: Path) -> Path:
    d = _dir(tmp)
    outside = write_dir(tmp / "outside", rf())
    target = d / RF
    for p in sorted(target.rglob("*"), reverse=True):
        p.rmdir() if p.is_dir() else p.unlink()
    target.rmdir()
    os.symlink(outside / RF, target)
    return d


def _symlink_passwd(tmp: Path) -> Path:
    d = _dir(tmp)
    (d / "bundle.json").unlink()
    os.symlink("/etc/passwd", d / "bundle.json")
    return d


def _symlink_loop(tmp: Path) -> Path:
    d = _dir(tmp)
    (d / "root/model.json").unlink()
    os.symlink("loop-b", d / "root/model.json")
    os.symlink("model.json", d / "root/loop-b")
    return d


def _symlink_cycle(tmp: Path) -> Path:
    """root/feature_pipeline.node/again.node -> root: a pipeline that contains itself."""
    d = _dir(tmp)
    doc = json.loads((d / FP / "model.json").read_text())
    doc["attributes"]["nodes"]["string"].append("again")
    (d / FP / "model.json").write_text(json.dumps(doc))
    os.symlink(".", d / FP / "again.node")  # relative: the cycle survives moving the bundle
    return d


def _fifo(tmp: Path) -> Path:
    d = _dir(tmp)
    (d / "root/model.json").unlink()
    fifo(d / "root/model.json")
    return d


def _dev_zero(tmp: Path) -> Path:
    d = _dir(tmp)
    (d / f"{RF}/tree0/tree.json").unlink()
    os.symlink("/dev/zero", d / f"{RF}/tree0/tree.json")
    return d


DIR_CASES = [
    Case("symlink to a file outside the bundle", _symlink_file_outside, "leads outside the bundle directory",
         "bundle/root/model.json", dir_only=True),
    Case("symlink to a folder outside the bundle", _symlink_dir_outside, "leads outside the bundle directory",
         f"bundle/{RF}", dir_only=True),
    Case("symlink to /etc/passwd as bundle.json", _symlink_passwd, "leads outside the bundle directory",
         "bundle/bundle.json", dir_only=True),
    Case("symlink to /dev/zero as a tree file", _dev_zero, "leads outside the bundle directory",
         "tree0/tree.json", dir_only=True),
    Case("symlink loop", _symlink_loop, "cannot be resolved (a loop of symbolic links)", "bundle/root/model.json",
         dir_only=True),
    Case("symlink cycle: a pipeline containing itself", _symlink_cycle, "nested deeper than", "again.node",
         dir_only=True),
    Case("FIFO as model.json (must not block)", _fifo, "is not a regular file", "bundle/root/model.json",
         dir_only=True),
]


# --- bundle.json, model.json, node.json ----------------------------------------------------------

def _info(fn):
    return _edit("bundle.json", fn)


def _deep_json(depth):
    return ("[" * depth + "]" * depth).encode()


def _nested(depth):
    """A JSON value nested ``depth`` deep, with brackets in a string that do not count."""
    value = ["[[[{{{"]
    for _ in range(depth - 1):
        value = [value]
    return value


def _with_unread_attribute(depth):
    """The RF bundle with an attribute nested ``depth`` deep in the scaler's model.json, written
    as text (json.dumps itself stops near 1000 levels on 3.11)."""
    entries = rf()
    doc = json.loads(entries[f"{SCALER}/model.json"])
    doc["attributes"]["unread"] = "NESTED"
    entries[f"{SCALER}/model.json"] = json.dumps(doc).replace('"NESTED"', "[" * depth + "]" * depth).encode()
    return entries


FILE_CASES = [
    Case("bundle.json missing", _drop("bundle.json"), "file is missing", "bundle.zip!/bundle.json"),
    Case("bundle.json not JSON", _replace("bundle.json", b"{format: json"), "invalid JSON", "bundle.json"),
    Case("bundle.json a list", _replace("bundle.json", b"[1, 2]"), "expected a JSON object", "bundle.json"),
    Case("bundle.json unknown format", _info(lambda d: d.update(format="yaml")), "'format' must be", "bundle.json"),
    Case("bundle.json uid a number", _info(lambda d: d.update(uid=12)), "'uid' must be a string", "bundle.json"),
    Case("root/model.json missing", _drop("root/model.json"), "file is missing", "bundle.zip!/root/model.json"),
    Case("model.json not JSON", _replace("root/model.json", b"{\"op\": pipeline}"), "invalid JSON",
         "root/model.json"),
    Case("model.json not UTF-8", _replace(f"{SCALER}/model.json", b"\xff\xfe{\"op\": 1}"), "invalid JSON",
         f"{SCALER}/model.json"),
    Case("model.json nested 100 000 deep", _replace(f"{SCALER}/model.json", _deep_json(100_000)),
         "nested too deeply", f"{SCALER}/model.json"),
    # json.loads itself stops near 990 levels on 3.11, 1497 on 3.12 and 9998 on 3.13: the runtime's
    # own limit (bundle.MAX_JSON_DEPTH) holds on all of them, even for a value no op reads.
    Case("model.json nested 257 deep in an attribute no op reads",  # the file, its attributes, then 255
         _edit(f"{SCALER}/model.json", lambda d: d["attributes"].update(unread=_nested(255))),
         "nested too deeply: more than 256 levels", f"{SCALER}/model.json"),
    Case("model.json nested 1200 deep in an attribute no op reads", _zip(lambda: _with_unread_attribute(1200)),
         "nested too deeply", f"{SCALER}/model.json"),
    Case("model.json with a 5000-digit number", _replace(f"{SCALER}/model.json",
                                                         b'{"op": "standard_scaler", "x": ' + b"9" * 5000 + b"}"),
         "invalid JSON", f"{SCALER}/model.json"),
    Case("model.json without op", _edit(f"{SCALER}/model.json", lambda d: d.pop("op")), "'op' must be",
         f"{SCALER}/model.json"),
    Case("model.json op a number", _edit(f"{SCALER}/model.json", lambda d: d.update(op=7)), "'op' must be",
         f"{SCALER}/model.json"),
    Case("model.json attributes a list", _edit(f"{SCALER}/model.json", lambda d: d.update(attributes=[1])),
         "attributes must be an object", f"{SCALER}/model.json"),
    Case("unknown op", _edit(f"{SCALER}/model.json", lambda d: d.update(op="quantum_scaler")),
         "is not supported", SCALER),
    Case("node.json missing", _drop(f"{STATE}/node.json"), "file is missing", f"{STATE}/node.json"),
    Case("node.json without name", _edit(f"{STATE}/node.json", lambda d: d.pop("name")), "'name' must be",
         f"{STATE}/node.json"),
    Case("node.json shape a string", _edit(f"{STATE}/node.json", lambda d: d.update(shape="x")),
         "'shape' must be an object", f"{STATE}/node.json"),
    Case("node.json inputs not an array", _edit(f"{STATE}/node.json", lambda d: d["shape"].update(inputs={})),
         "'shape.inputs' must be an array", f"{STATE}/node.json"),
    Case("node.json socket without port", _edit(f"{STATE}/node.json",
                                               lambda d: d["shape"]["inputs"][0].pop("port")),
         "invalid socket", f"{STATE}/node.json"),
    Case("node.json duplicate ports", _edit(f"{STATE}/node.json", lambda d: d["shape"]["outputs"].append(
        d["shape"]["outputs"][0])), "duplicate output port", f"{STATE}/node.json"),
    Case("node.json missing an input port", _edit(f"{STATE}/node.json", lambda d: d["shape"].update(inputs=[])),
         "has no input socket", STATE),
    Case("pipeline nodes a string", _edit("root/model.json", lambda d: d["attributes"].update(
        nodes={"string": "feature_pipeline"})), "attribute 'nodes'", "root/model.json"),
    Case("pipeline child '../..'", _edit("root/model.json", lambda d: d["attributes"]["nodes"]["string"].append(
        "../../../etc")), "invalid child node name", "root"),
    Case("pipeline child missing", _edit("root/model.json", lambda d: d["attributes"]["nodes"]["string"].append(
        "ghost")), "file is missing", "root/ghost.node/model.json"),
    Case("pipelines nested 40 deep", _zip(lambda: nested_pipeline_entries(40)), "nested deeper than 32",
         "bundle.zip!/root/p.node"),
]


# --- attributes ----------------------------------------------------------------------------------

def _std(fn):
    def edit(doc):
        fn(doc["attributes"]["std"])
    return _edit(f"{SCALER}/model.json", edit)


ATTRIBUTE_CASES = [
    Case("num_features a string", _set_attr(RF, "num_features", {"string": "13"}), "attribute 'num_features'",
         f"{RF}/model.json"),
    Case("trees a list of numbers", _set_attr(RF, "trees", {"type": "list", "long": [0, 1]}),
         "attribute 'trees'", f"{RF}/model.json"),
    Case("trees naming a missing tree", _edit(f"{RF}/model.json", lambda d: d["attributes"]["trees"][
        "string"].append("tree99")), "file is missing", f"{RF}/tree99/model.json"),
    Case("labels a string", _set_attr(STATE, "labels", {"string": "NY"}), "attribute 'labels'",
         f"{STATE}/model.json"),
    Case("std a string", _set_attr(SCALER, "std", {"string": "0.5"}), "attribute 'std'", f"{SCALER}/model.json"),
    Case("std values disagree with dimensions", _std(lambda t: t["shape"]["dimensions"][0].update(size=9)),
         "8 values for dimensions [9]", f"{SCALER}/model.json"),
    Case("std negative dimension", _std(lambda t: t["shape"]["dimensions"][0].update(size=-8)),
         "negative tensor dimension", f"{SCALER}/model.json"),
    Case("std dimension a string", _std(lambda t: t["shape"]["dimensions"][0].update(size="8")),
         "invalid tensor dimension", f"{SCALER}/model.json"),
    Case("labels holding a number", _edit(f"{STATE}/model.json", lambda d: d["attributes"]["labels"][
        "string"].append(3)), "attribute 'labels'", f"{STATE}/model.json"),
    Case("vector size disagrees with num_features", _set_attr(RF, "num_features", {"long": 20}),
         "reads column 'features_rf' as vector[20], but an earlier node writes it as vector[13]", RF),
    Case("scaler std shorter than its input vector", _std(lambda t: (
        t.update(double=t["double"][:7]), t["shape"]["dimensions"][0].update(size=7))),
         "as vector[7], but an earlier node writes it as vector[8]", SCALER),
    Case("assembler input size disagrees", _edit(f"{ASSEMBLER}/model.json", lambda d: d["attributes"][
        "input_shapes"]["data_shape"][5]["tensorShape"]["dimensions"][0].update(size=3)),
         "as vector[3], but an earlier node writes it as vector[8]", ASSEMBLER),
    Case("list over LEAPSERVE_MAX_ATTRIBUTE_LENGTH=1000",
         _set_attr(STATE, "labels", {"type": "list", "string": [f"s{i}" for i in range(1001)]}),
         "has 1001 values, over the limit of 1000", f"{STATE}/model.json",
         env={"LEAPSERVE_MAX_ATTRIBUTE_LENGTH": "1000"}),
    Case("tensor over LEAPSERVE_MAX_ATTRIBUTE_LENGTH=8", _std(lambda t: (
        t["double"].append(1.0), t["shape"]["dimensions"][0].update(size=9))), "has 9 values, over the limit of 8",
         f"{SCALER}/model.json", env={"LEAPSERVE_MAX_ATTRIBUTE_LENGTH": "8"}),
]


def one_op_entries(op: str, attrs: dict, port: str = "input") -> dict:
    """A JSON bundle whose pipeline runs one op, ``x`` -> ``y`` through ports ``port`` and output."""
    def dump(doc):
        return json.dumps(doc).encode()
    return {
        "bundle.json": dump({"uid": "00000000-0000-0000-0000-000000000000", "name": "one", "format": "json",
                             "version": "0.16.0", "timestamp": "2024-01-01T00:00:00"}),
        "root/model.json": dump({"op": "pipeline", "attributes": {"nodes": {"type": "list", "string": ["op"]}}}),
        "root/node.json": dump({"name": "pipeline", "shape": {"inputs": [], "outputs": []}}),
        "root/op.node/model.json": dump({"op": op, "attributes": attrs}),
        "root/op.node/node.json": dump({"name": "op", "shape": {"inputs": [{"port": port, "name": "x"}],
                                                                "outputs": [{"port": "output", "name": "y"}]}}),
    }


_OVER_SIZE = "over the limit of 16777216 (LEAPSERVE_MAX_VECTOR_SIZE)"

# Sizes a few bytes long that would make the server allocate gigabytes (warm-up records, lookup
# tables, the terms of an expansion): refused where the op reads them.
SIZE_CASES = [
    Case("size bomb: vector_slicer input_size 20 000 000",
         _zip(lambda: one_op_entries("vector_slicer", {"indices": {"type": "list", "long": [0]},
                                                       "input_size": {"long": 20_000_000}})),
         "attribute 'input_size': a vector of 20000000 values, " + _OVER_SIZE, "bundle.zip!/root/op.node/model.json"),
    Case("size bomb: chi_sq_selector input_size 20 000 000",
         _zip(lambda: one_op_entries("chi_sq_selector", {"filter_indices": {"type": "list", "long": [0]},
                                                         "input_size": {"long": 20_000_000}})),
         "attribute 'input_size': a vector of 20000000 values", "bundle.zip!/root/op.node/model.json"),
    Case("size bomb: hashing_term_frequency num_features 20 000 000",
         _zip(lambda: one_op_entries("hashing_term_frequency", {"num_features": {"long": 20_000_000},
                                                                "binary": {"boolean": False}})),
         "attribute 'num_features': a vector of 20000000 values", "bundle.zip!/root/op.node/model.json"),
    Case("size bomb: polynomial_expansion of 1000 features to degree 3 (167 668 500 terms)",
         _zip(lambda: one_op_entries("polynomial_expansion", {"degree": {"long": 3}, "input_size": {"long": 1000}})),
         "polynomial_expansion of 1000 features to degree 3: a vector of 167668500 values", "root/op.node/model.json"),
    Case("size bomb: random forest num_features 20 000 000", _set_attr(RF, "num_features", {"long": 20_000_000}),
         "attribute 'num_features': a vector of 20000000 values, " + _OVER_SIZE, f"bundle.zip!/{RF}/model.json"),
    Case("size: assembler output over LEAPSERVE_MAX_VECTOR_SIZE=5", _zip(rf),
         "vector_assembler: the output: a vector of 8 values, over the limit of 5",
         f"bundle.zip!/{FP}/continuous_feature_assembler.node/model.json", env={"LEAPSERVE_MAX_VECTOR_SIZE": "5"}),
]


# --- trees -----------------------------------------------------------------------------------------

T0 = f"{RF}/tree0"

TREE_CASES = [
    Case("tree: dangling child (file ends early)", _lines(T0, lambda ls: ls[:-1]), "has no right child",
         f"{T0}/tree.json"),
    Case("tree: only the root", _lines(T0, lambda ls: ls[:1]), "has no left child", f"{T0}/tree.json"),
    Case("tree: nodes after the end", _lines(T0, lambda ls: ls + ls[-1:]), "after the end of the tree",
         f"{T0}/tree.json"),
    Case("tree: empty file", _lines(T0, lambda ls: []), "the tree has no nodes", f"{T0}/tree.json"),
    Case("tree: line not JSON", _lines(T0, lambda ls: [ls[0], "{oops", *ls[2:]]), "line 2: invalid JSON",
         f"{T0}/tree.json"),
    Case("tree: line nested 257 deep", _tree_node(T0, 0, lambda d: d.update(unread=_nested(256))),  # node, 256
         "line 1: invalid JSON (nested too deeply", f"{T0}/tree.json"),
    Case("tree: node a list", _lines(T0, lambda ls: [ls[0], "[1, 2]", *ls[2:]]), "expected an object",
         f"{T0}/tree.json"),
    Case("tree: unknown node type", _tree_node(T0, 0, lambda d: d.update(type="branch")), "node type must be",
         f"{T0}/tree.json"),
    Case("tree: negative featureIndex", _tree_node(T0, 0, lambda d: d["split"].update(featureIndex=-1)),
         "featureIndex -1 is out of range", f"{T0}/tree.json"),
    Case("tree: featureIndex past num_features", _tree_node(T0, 0, lambda d: d["split"].update(featureIndex=13)),
         "featureIndex 13 is out of range for 13 features", f"{T0}/tree.json"),
    Case("tree: threshold a string", _tree_node(T0, 0, lambda d: d["split"].update(threshold="3.1")),
         "threshold must be a number", f"{T0}/tree.json"),
    Case("tree: leaf with two values", _lines(T0, lambda ls: [*ls[:-1], '{"type":"leaf","values":[1.0, 2.0]}']),
         "leaf has 2 value(s), expected 1", f"{T0}/tree.json"),
    Case("tree: split missing", _tree_node(T0, 0, lambda d: d.pop("split")), "without a split object",
         f"{T0}/tree.json"),
    Case("tree: nodes over LEAPSERVE_MAX_TREE_NODES=10", _zip(rf), "more than 10 tree nodes", "tree.json",
         env={"LEAPSERVE_MAX_TREE_NODES": "10"}),
    Case("tree: sub-model folder missing", _drop(f"{RF}/tree7/model.json"), "file is missing",
         f"{RF}/tree7/model.json"),
]


# --- protobuf ----------------------------------------------------------------------------------------

def lr_pb() -> dict:
    return pb_lr_entries([1.0, 2.0, 3.0], 0.5)


def _pb_coefficients(tensor: pb.Tensor, stored=False):
    return _zip(lambda: pb_lr_entries([], 0.0, coefficients_tensor=tensor), stored=stored)


def _string_tensor_truncated() -> pb.Tensor:
    t = pb.Tensor(base=pb.STRING, value=(100).to_bytes(4, "big") + b"abc")
    t.shape.dimensions.add(size=1)
    return t


PROTOBUF_CASES = [
    Case("protobuf: model.pb garbage", _replace("root/lr.node/model.pb", b"\xff" * 64, lr_pb), "invalid protobuf",
         "root/lr.node/model.pb"),
    Case("protobuf: node.pb garbage", _replace("root/lr.node/node.pb", b"\x0a\xff\xff\xff\xff\x0f", lr_pb),
         "invalid protobuf", "root/lr.node/node.pb"),
    Case("protobuf: JSON files in a protobuf bundle", _zip(lambda: {
        **{k: v for k, v in json_lr_entries([1, 2], 0).items() if k != "bundle.json"},
        "bundle.json": lr_pb()["bundle.json"]}), "file is missing", "root/model.pb"),
    Case("protobuf: tensor bytes not a multiple of 8",
         _pb_coefficients(pb.Tensor(base=pb.DOUBLE, value=b"\x00" * 12)), "not a multiple of 8",
         "root/lr.node/model.pb"),
    Case("protobuf: truncated string tensor", _pb_coefficients(_string_tensor_truncated()),
         "truncated string tensor", "root/lr.node/model.pb"),
    Case("protobuf: tensor of unknown base type", _pb_coefficients(pb.Tensor(base=77, value=b"\x00" * 8)),
         "unknown base type", "root/lr.node/model.pb"),
    Case("protobuf: 2M coefficients over LEAPSERVE_MAX_ATTRIBUTE_LENGTH=1M",
         _pb_coefficients(pb.Tensor(base=pb.DOUBLE, value=bytes(16 << 20)), stored=True), "over the limit of 1048576",
         "root/lr.node/model.pb", env={"LEAPSERVE_MAX_ATTRIBUTE_LENGTH": "1M"}),
]


ALL_CASES = ZIP_CASES + DIR_CASES + FILE_CASES + ATTRIBUTE_CASES + SIZE_CASES + TREE_CASES + PROTOBUF_CASES


def case_by_id(case_id: str) -> Case:
    return next(c for c in ALL_CASES if c.id == case_id)


