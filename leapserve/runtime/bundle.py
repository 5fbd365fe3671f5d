"""Reading a bundle's files: bundle.json, node and model files, sub-models and tree files.

This layer only reads and checks files; it knows nothing of the math. Ops receive a ``NodeDef``
(or a ``ModelDir`` for sub-models such as ``tree3/`` or ``model0/``) and read their attributes and
data files through it.
"""

from __future__ import annotations

import json
import re
import struct
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from google.protobuf.message import DecodeError

from leapserve.bundleml import bundle_pb2 as pb

from .attributes import Attributes, pb_attributes
from .container import BundleSource, Limits, limits
from .errors import BundleError

FORMATS = {"json": "json", "protobuf": "pb"}
MAX_PIPELINE_DEPTH = 32


@dataclass(frozen=True)
class BundleInfo:
    uid: str
    name: str
    format: str
    version: str
    timestamp: str


@dataclass(frozen=True)
class Socket:
    port: str
    name: str


def source_limits(source: BundleSource) -> Limits:
    lim = getattr(source, "limits", None)
    return lim if isinstance(lim, Limits) else limits()


# The deepest JSON nesting accepted in a bundle file: json.loads stops at a depth that depends on
# the Python (about 990 on 3.11, less the frames already on the stack; 1497 on 3.12; 9998 on 3.13),
# so the runtime refuses deeper JSON itself, everywhere. Bundle.ML files nest less than 10 deep.
MAX_JSON_DEPTH = 256
_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")


def _json_depth(text: str) -> int:
    """How deep the arrays and objects of a JSON text nest (brackets inside strings left out)."""
    brackets = np.frombuffer(_NOT_BRACKET.sub("", _JSON_STRING.sub("", text)).encode(), dtype=np.uint8)
    steps = np.where((brackets == ord("[")) | (brackets == ord("{")), 1, -1)
    return int(np.cumsum(steps).max(initial=0))


def _nests_too_deeply(text: str) -> bool:
    # A text of fewer brackets than the limit cannot nest past it: counting them costs about 2% of
    # json.loads (a 12 MB vocabulary: 6 ms of a 400 ms load), the exact depth far more.
    return (len(text) > MAX_JSON_DEPTH and text.count("[") + text.count("{") > MAX_JSON_DEPTH
            and _json_depth(text) > MAX_JSON_DEPTH)


def _parse_json(text: str, where: str, what: str = "invalid JSON"):
    """json.loads with every way it fails on hostile text turned into a BundleError naming the file:
    bad syntax, integers of more than 4300 digits (ValueError), nesting deeper than MAX_JSON_DEPTH
    (or deep enough to exhaust the parser's recursion: RecursionError). The text is decoded
    already: the callers turn bad UTF-8 into their own BundleError or replacement characters."""
    if _nests_too_deeply(text):
        raise BundleError(f"{what} (nested too deeply: more than {MAX_JSON_DEPTH} levels)", path=where)
    try:
        return json.loads(text)
    except RecursionError:
        raise BundleError(f"{what} (nested too deeply)", path=where) from None
    except ValueError as e:
        raise BundleError(f"{what} ({e})", path=where) from None


def _json(source: BundleSource, relpath: str):
    data = source.read(relpath)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise BundleError(f"invalid JSON ({e})", path=source.where(relpath)) from None
    return _parse_json(text, source.where(relpath))


def _pb(source: BundleSource, relpath: str, message):
    data = source.read(relpath)
    msg = message()
    try:
        msg.ParseFromString(data)
    except (DecodeError, RuntimeError, ValueError, RecursionError) as e:
        raise BundleError(f"invalid protobuf ({type(e).__name__}: {e})", path=source.where(relpath)) from None
    return msg


def read_info(source: BundleSource) -> BundleInfo:
    raw = _json(source, "bundle.json")
    where = source.where("bundle.json")
    if not isinstance(raw, dict):
        raise BundleError("expected a JSON object", path=where)
    fmt = raw.get("format")
    if not isinstance(fmt, str) or fmt not in FORMATS:
        raise BundleError(f"'format' must be \"json\" or \"protobuf\", found {fmt!r}", path=where)
    fields = {}
    for key in ("uid", "name", "version", "timestamp"):
        value = raw.get(key, "")
        if not isinstance(value, str):
            raise BundleError(f"{key!r} must be a string, found {value!r}", path=where)
        fields[key] = value
    return BundleInfo(format=fmt, **fields)


class ModelDir:
    """A folder holding a model file: a graph node's folder, or a sub-model folder (treeN/, modelN/)."""

    def __init__(self, source: BundleSource, fmt: str, path: str):
        self.source = source
        self.format = fmt
        self.ext = FORMATS[fmt]
        self.path = path
        model_file = f"{path}/model.{self.ext}"
        if self.ext == "json":
            raw = _json(source, model_file)
            if not isinstance(raw, dict):
                raise BundleError("expected a JSON object", path=source.where(model_file))
            op = raw.get("op")
            attrs = raw.get("attributes", {})  # MLeap always writes it; tolerate its absence
            if attrs is None:
                attrs = {}
        else:
            msg = _pb(source, model_file, pb.Model)
            op = msg.op
            attrs = pb_attributes(msg.attributes, where=source.where(model_file),
                                  max_length=source_limits(source).max_attribute_length)
        if not isinstance(op, str) or not op:
            raise BundleError(f"'op' must be a non-empty string, found {op!r}", path=source.where(model_file))
        self.op = op
        lim = source_limits(source)
        self.attrs = Attributes(attrs, source.where(model_file), max_length=lim.max_attribute_length,
                                max_vector_size=lim.max_vector_size)

    def where(self, name: str | None = None) -> str:
        return self.source.where(f"{self.path}/{name}" if name else self.path)

    def has_file(self, name: str) -> bool:
        return self.source.exists(f"{self.path}/{name}")

    def read_file(self, name: str) -> bytes:
        return self.source.read(f"{self.path}/{name}")

    def sub_model(self, name: str) -> "ModelDir":
        """A sub-model folder (no node file), e.g. tree0/ of a forest or model1/ of one-vs-rest."""
        if not name or "/" in name or name in (".", ".."):
            raise BundleError(f"invalid sub-model name {name!r}", path=self.where())
        return ModelDir(self.source, self.format, f"{self.path}/{name}")

    def _json_lines(self, name: str) -> list:
        """The JSON values of a file of one value per line (tree.json), at most the tree node limit."""
        text = self.read_file(name).decode("utf-8", "replace")
        most = source_limits(self.source).max_tree_nodes
        nodes = []
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            if len(nodes) >= most:
                raise BundleError(f"more than {most} tree nodes (LEAPSERVE_MAX_TREE_NODES)", path=self.where(name))
            nodes.append(_parse_json(line, self.where(name), f"line {number}: invalid JSON"))
        return nodes

    def decision_tree_nodes(self) -> list[dict]:
        """The nodes of tree.json / tree.pb, pre-order, each in the JSON form of section 1.8."""
        if self.ext == "json":
            return self._json_lines("tree.json")
        return [_dtree_node_json(n) for n in self._pb_records("tree.pb", pb.DecisionNode)]

    def cluster_tree_nodes(self) -> list[dict]:
        """The nodes of a bisecting k-means tree file, pre-order, in the JSON form."""
        if self.ext == "json":
            return self._json_lines("tree.json")
        most = source_limits(self.source).max_attribute_length
        out = []
        for n in self._pb_records("tree.pb", pb.ClusterNode):
            if len(n.values) > most:
                raise BundleError(f"a cluster center has {len(n.values)} values, over the limit of {most} "
                                  "(LEAPSERVE_MAX_ATTRIBUTE_LENGTH)", path=self.where("tree.pb"))
            out.append({"index": n.index, "norm": n.norm, "values": list(n.values), "numChildren": n.num_children})
        return out

    def _pb_records(self, name: str, message) -> list:
        data = self.read_file(name)
        most = source_limits(self.source).max_tree_nodes
        out, pos = [], 0
        while pos < len(data):
            if len(out) >= most:
                raise BundleError(f"more than {most} tree nodes (LEAPSERVE_MAX_TREE_NODES)", path=self.where(name))
            if pos + 4 > len(data):
                raise BundleError(f"truncated record header at byte {pos}", path=self.where(name))
            (size,) = struct.unpack_from(">i", data, pos)
            pos += 4
            if size < 0 or pos + size > len(data):
                raise BundleError(f"record at byte {pos - 4} claims {size} bytes, past the end", path=self.where(name))
            msg = message()
            try:
                msg.ParseFromString(data[pos:pos + size])
            except (DecodeError, RuntimeError, ValueError, RecursionError) as e:
                raise BundleError(f"invalid record at byte {pos - 4} ({e})", path=self.where(name)) from None
            out.append(msg)
            pos += size
        return out


def _dtree_node_json(node) -> dict:
    kind = node.WhichOneof("n")
    if kind == "leaf":
        return {"type": "leaf", "values": list(node.leaf.values)}
    if kind != "internal":
        return {"type": None}
    split = node.internal.split
    skind = split.WhichOneof("s")
    if skind == "continuous":
        c = split.continuous
        return {"type": "internal", "split": {"type": "continuous", "featureIndex": c.feature_index,
                                              "threshold": c.threshold}}
    if skind == "categorical":
        c = split.categorical
        return {"type": "internal", "split": {"type": "categorical", "featureIndex": c.feature_index,
                                              "isLeft": c.is_left, "numCategories": c.num_categories,
                                              "categories": list(c.categories)}}
    return {"type": "internal", "split": None}


class NodeDef(ModelDir):
    """A graph node: a node file (name and sockets) next to its model file."""

    def __init__(self, source: BundleSource, fmt: str, path: str):
        super().__init__(source, fmt, path)
        node_file = f"{path}/node.{self.ext}"
        where = source.where(node_file)
        if self.ext == "json":
            raw = _json(source, node_file)
            if not isinstance(raw, dict):
                raise BundleError("expected a JSON object", path=where)
            name = raw.get("name")
            shape = raw.get("shape", {})
            if not isinstance(shape, dict):
                raise BundleError("'shape' must be an object", path=where)
            inputs = [_socket(s, where) for s in _socket_list(shape, "inputs", where)]
            outputs = [_socket(s, where) for s in _socket_list(shape, "outputs", where)]
        else:
            msg = _pb(source, node_file, pb.Node)
            name = msg.name
            inputs = [Socket(s.port, s.name) for s in msg.shape.inputs]
            outputs = [Socket(s.port, s.name) for s in msg.shape.outputs]
        if not isinstance(name, str) or not name:
            raise BundleError(f"'name' must be a non-empty string, found {name!r}", path=where)
        self.name = name
        self.inputs = tuple(inputs)
        self.outputs = tuple(outputs)
        for label, sockets in (("input", self.inputs), ("output", self.outputs)):
            ports = [s.port for s in sockets]
            if len(set(ports)) != len(ports):
                raise BundleError(f"duplicate {label} port in {ports}", path=where)

    def input_column(self, port: str) -> str | None:
        for s in self.inputs:
            if s.port == port:
                return s.name
        return None

    def output_column(self, port: str) -> str | None:
        for s in self.outputs:
            if s.port == port:
                return s.name
        return None

    def child(self, name: str) -> "NodeDef":
        """A child of a pipeline node: folder <name>.node inside this node's folder."""
        if not name or "/" in name or name in (".", ".."):
            raise BundleError(f"invalid child node name {name!r}", path=self.where())
        return NodeDef(self.source, self.format, f"{self.path}/{name}.node")


def _socket_list(shape: dict, key: str, where: str) -> list:
    value = shape.get(key, [])
    if not isinstance(value, list):
        raise BundleError(f"'shape.{key}' must be an array", path=where)
    return value


def _socket(raw, where: str) -> Socket:
    if not isinstance(raw, dict) or not isinstance(raw.get("port"), str) or not isinstance(raw.get("name"), str):
        raise BundleError(f"invalid socket {raw!r} (needs string 'port' and 'name')", path=where)
    return Socket(raw["port"], raw["name"])


def read_root(source: BundleSource) -> tuple[BundleInfo, NodeDef]:
    info = read_info(source)
    return info, NodeDef(source, info.format, "root")


def leaf_nodes(node: NodeDef, depth: int = 0) -> Iterator[NodeDef]:
    """The nodes a bundle runs, in order: pipelines (op "pipeline", their children listed in the
    attribute "nodes") are flattened, nested up to MAX_PIPELINE_DEPTH levels. Each node is read
    when the one before it has been used, so the first broken file is the one reported."""
    if depth > MAX_PIPELINE_DEPTH:
        raise BundleError(f"pipelines nested deeper than {MAX_PIPELINE_DEPTH}", path=node.where())
    if node.op == "pipeline":
        for child in node.attrs.string_list("nodes"):
            yield from leaf_nodes(node.child(child), depth + 1)
    else:
        yield node
