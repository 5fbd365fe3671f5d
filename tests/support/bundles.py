"""Bundles for the tests: real MLeap bundles taken apart and put back together, small bundles written
by hand per the Bundle.ML reference (both formats), the raw zip surgery that hostile archives need
(lying sizes, unsafe names, unknown compression methods), and what the server tests expect of the
linear bundles they fit with Spark.

A bundle is handled as ``entries``: a dict of '/'-separated path -> bytes, written out as a zip or
as a directory.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import warnings
import zipfile
import zlib
from pathlib import Path

from leapserve.bundleml import bundle_pb2 as pb

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "mleap"  # written by MLeap (see its README)
RF_ZIP = FIXTURES / "airbnb.model.rf.zip"
LR_ZIP = FIXTURES / "airbnb.model.lr.zip"
FRAME = FIXTURES / "frame.airbnb.json"

# Folders of the airbnb random forest bundle (JSON format, written by MLeap).
RF = "root/rfr_5af14f58ae5f.node"
FP = "root/feature_pipeline.node"
SCALER = f"{FP}/continuous_feature_scaler.node"
STATE = f"{FP}/string_indexer_state.node"
ASSEMBLER = f"{FP}/feature_assembler_rf.node"


# --- entries ---------------------------------------------------------------------------------

def entries_of(zip_path) -> dict[str, bytes]:
    with zipfile.ZipFile(zip_path) as z:
        return {i.filename: z.read(i) for i in z.infolist() if not i.is_dir()}


def write_zip(path: Path, entries, *, compression=zipfile.ZIP_DEFLATED) -> Path:
    """entries: a dict or a list of (name, bytes) pairs (a list may repeat a name)."""
    items = entries.items() if isinstance(entries, dict) else entries
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # duplicate names are written on purpose
        with zipfile.ZipFile(path, "w", compression) as z:
            for name, data in items:
                info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
                info.compress_type = compression
                z.writestr(info, data)
    return path


def write_dir(path: Path, entries: dict) -> Path:
    for name, data in entries.items():
        target = path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return path


def jdump(doc) -> bytes:
    return json.dumps(doc).encode()


def edit_json(entries: dict, name: str, fn) -> dict:
    """A copy of the entries with the JSON file ``name`` edited in place by fn(doc) (whatever fn
    returns is ignored)."""
    doc = json.loads(entries[name])
    fn(doc)
    return {**entries, name: jdump(doc)}


def airbnb_record() -> dict:
    frame = json.loads(FRAME.read_text())
    names = [f["name"] for f in frame["schema"]["fields"]]
    return dict(zip(names, frame["rows"][0]))


# --- the linear bundles tests/server fits with Spark, bundle copies, the runtime's ops -----------

# Training data: y = 1 + 2a - b exactly (v1) and y = 10 + a + b (v2), so predictions are known.
V1_ROWS = [(1.0, 2.0), (2.0, 0.0), (3.0, 1.0), (0.0, 0.0), (1.5, -2.0), (4.0, 3.0)]


def v1_expected(a: float, b: float) -> float:
    return 1.0 + 2.0 * a - b


def v2_expected(a: float, b: float) -> float:
    return 10.0 + a + b


def copy_bundle(src: Path, dst: Path) -> None:
    """Copy a bundle (zip or directory) to dst atomically (write beside, then rename)."""
    tmp = dst.with_name("." + dst.name + ".tmp")
    if src.is_dir():
        if tmp.exists():
            shutil.rmtree(tmp)
        shutil.copytree(src, tmp)
        if dst.exists():
            shutil.rmtree(dst)
    else:
        shutil.copyfile(src, tmp)
    os.replace(tmp, dst)


def has_ops(*names: str) -> bool:
    from leapserve.runtime import supported_ops

    return set(names) <= set(supported_ops())


# --- hand-written bundles ------------------------------------------------------------------------

def _bundle_json(fmt: str, name: str = "handmade") -> bytes:
    return jdump({"uid": "00000000-0000-0000-0000-000000000000", "name": name, "format": fmt,
                  "version": "0.16.0", "timestamp": "2024-01-01T00:00:00"})


def json_lr_entries(coefficients, intercept: float, *, inputs=("a", "b")) -> dict:
    """JSON bundle: scalars ``inputs`` -> vector assembler (``features``) -> linear regression
    (``prediction``)."""
    assert len(coefficients) == len(inputs)
    shapes = [{"base": "scalar", "isNullable": True} for _ in inputs]
    return {
        "bundle.json": _bundle_json("json"),
        "root/model.json": jdump({"op": "pipeline", "attributes": {
            "nodes": {"type": "list", "string": ["assembler", "lr"]}}}),
        "root/node.json": jdump({"name": "pipeline", "shape": {"inputs": [], "outputs": []}}),
        "root/assembler.node/model.json": jdump({"op": "vector_assembler", "attributes": {
            "input_shapes": {"type": "list", "data_shape": shapes}}}),
        "root/assembler.node/node.json": jdump({"name": "assembler", "shape": {
            "inputs": [{"port": f"input{i}", "name": n} for i, n in enumerate(inputs)],
            "outputs": [{"port": "output", "name": "features"}]}}),
        "root/lr.node/model.json": jdump({"op": "linear_regression", "attributes": {
            "coefficients": {"type": "tensor", "double": [float(c) for c in coefficients],
                             "shape": {"dimensions": [{"size": len(coefficients), "name": ""}]}},
            "intercept": {"double": float(intercept)}}}),
        "root/lr.node/node.json": jdump({"name": "lr", "shape": {
            "inputs": [{"port": "features", "name": "features"}],
            "outputs": [{"port": "prediction", "name": "prediction"}]}}),
    }


def pb_tensor(values, base=pb.DOUBLE, fmt="d") -> pb.Tensor:
    t = pb.Tensor(base=base, value=struct.pack(f">{len(values)}{fmt}", *values))
    t.shape.dimensions.add(size=len(values))
    return t


def pb_node(name: str, inputs, outputs) -> bytes:
    n = pb.Node(name=name)
    for port, col in inputs:
        n.shape.inputs.add(port=port, name=col)
    for port, col in outputs:
        n.shape.outputs.add(port=port, name=col)
    return n.SerializeToString()


def pb_lr_entries(coefficients, intercept: float, *, coefficients_tensor: pb.Tensor | None = None) -> dict:
    """Protobuf bundle: a pipeline holding one linear regression reading the vector ``features``."""
    root = pb.Model(op="pipeline")
    root.attributes.list["nodes"].l.s.append("lr")
    lr = pb.Model(op="linear_regression")
    lr.attributes.list["coefficients"].t.CopyFrom(coefficients_tensor or pb_tensor(list(coefficients)))
    lr.attributes.list["intercept"].s.d = intercept
    return {
        "bundle.json": _bundle_json("protobuf"),
        "root/model.pb": root.SerializeToString(),
        "root/node.pb": pb_node("pipeline", [], []),
        "root/lr.node/model.pb": lr.SerializeToString(),
        "root/lr.node/node.pb": pb_node("lr", [("features", "features")], [("prediction", "prediction")]),
    }


def nested_pipeline_entries(depth: int) -> dict:
    """JSON bundle whose linear regression sits inside ``depth`` nested pipelines."""
    lr = json_lr_entries([1.0, 2.0], 0.5)
    entries = {"bundle.json": lr["bundle.json"]}
    folder = "root"
    for level in range(depth):
        entries[f"{folder}/model.json"] = jdump({"op": "pipeline", "attributes": {
            "nodes": {"type": "list", "string": ["p"]}}})
        entries[f"{folder}/node.json"] = jdump({"name": f"p{level}", "shape": {"inputs": [], "outputs": []}})
        folder = f"{folder}/p.node"
    for name, data in lr.items():
        if name.startswith("root/"):
            entries[folder + name[len("root"):]] = data
    return entries


# --- the property every fuzzer checks ----------------------------------------------------------

def load_and_score(data: bytes) -> str:
    """Load the zip archive ``data`` in memory; a model that loads scores the server's warm-up
    record, one row and a batch of two. Returns "refused", "loaded", "scored" or "invalid input";
    any exception other than BundleError (loading) or ScoringError (scoring) propagates: a bug."""
    import io

    from leapserve.server.loading import sample_record
    from leapserve.runtime import BundleError, ScoringError, load_bundle
    from leapserve.runtime.container import ZipSource

    try:
        model = load_bundle(ZipSource(io.BytesIO(data)))  # load_bundle closes the source
    except BundleError:
        return "refused"
    record = sample_record(model)
    outcome = "scored"
    try:
        model.transform(record)
    except ScoringError:
        outcome = "invalid input"
    try:
        model.transform_batch({k: [v, v] for k, v in record.items()})
    except ScoringError:
        outcome = "invalid input"
    return outcome


# --- raw zip surgery ---------------------------------------------------------------------------

def deflate(data: bytes, level: int = 9) -> bytes:
    c = zlib.compressobj(level, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush()


def zeros_deflated(size: int, level: int = 9) -> bytes:
    """A raw deflate stream of ``size`` zero bytes, built in chunks (never all in memory)."""
    c = zlib.compressobj(level, zlib.DEFLATED, -15)
    chunk = bytes(1 << 20)
    parts = []
    left = size
    while left > 0:
        parts.append(c.compress(chunk[:min(left, len(chunk))]))
        left -= min(left, len(chunk))
    parts.append(c.flush())
    return b"".join(parts)


def raw_zip(path: Path, members) -> Path:
    """Write a zip from members (name, compressed bytes, method, crc, declared uncompressed size),
    with whatever sizes and names they claim: for archives the zipfile module will not write."""
    local, central = [], []
    offset = 0
    for name, data, method, crc, size in members:
        fname = name.encode("utf-8")
        header = struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0x800, method, 0, 0x21, crc, len(data),
                             size, len(fname), 0) + fname
        local.append(header + data)
        central.append(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0x800, method, 0, 0x21, crc,
                                   len(data), size, len(fname), 0, 0, 0, 0, 0, offset) + fname)
        offset += len(header) + len(data)
    cd = b"".join(central)
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(members), len(members), len(cd), offset, 0)
    path.write_bytes(b"".join(local) + cd + end)
    return path


def stored_member(name: str, data: bytes):
    return (name, data, zipfile.ZIP_STORED, zlib.crc32(data), len(data))


def deflated_member(name: str, data: bytes):
    return (name, deflate(data), zipfile.ZIP_DEFLATED, zlib.crc32(data), len(data))


def fifo(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    os.mkfifo(path)
    return path
