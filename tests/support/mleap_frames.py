"""MLeap LeapFrames written and read the way mleap-runtime does, independently of the server's codec
(server/frames.py): plain ``struct`` for the binary format (Java's DataOutputStream, big-endian),
plain ``json`` for the JSON one. Types are MLeap's JSON types: a name ("double", "string",
"integer", "long", "boolean", ...; nullable) or {"type": "basic"|"list"|"tensor", "base", "isNullable",
"dimensions"}. Tensor values are {"values": [...], "dimensions": [n]} (sparse: "indices": [[i], ...]).
"""

from __future__ import annotations

import json
import struct

JSON = "ml.combust.mleap.json"
BINARY = "ml.combust.mleap.binary"

_CODES = {"boolean": "?", "byte": "b", "short": "h", "int": "i", "integer": "i", "long": "q", "float": "f",
          "double": "d"}


def _shape(t):
    """(kind, base, nullable) of an MLeap JSON type."""
    if isinstance(t, str):
        return "basic", t, True
    return t["type"], t["base"], t.get("isNullable", True)


def json_frame(fields: list[tuple[str, object]], rows: list[list]) -> bytes:
    return json.dumps({"schema": {"fields": [{"name": n, "type": t} for n, t in fields]}, "rows": rows}).encode()


def _write_base(base: str, v) -> bytes:
    if base in _CODES:
        return struct.pack(">" + _CODES[base], v)
    raw = v.encode("utf-8") if base == "string" else bytes(v)
    return struct.pack(">i", len(raw)) + raw


def write_value(t, v) -> bytes:
    kind, base, nullable = _shape(t)
    if nullable:
        if v is None:
            return b"\x00"
        prefix = b"\x01"
    else:
        prefix = b""
    if kind == "basic":
        return prefix + _write_base(base, v)
    if kind == "list":
        return prefix + struct.pack(">i", len(v)) + b"".join(_write_base(base, x) for x in v)
    sparse = "indices" in v
    dims = v["dimensions"]
    out = struct.pack(">HH", 1 if sparse else 0, len(dims)) + b"".join(struct.pack(">i", d) for d in dims)
    out += struct.pack(">i", len(v["values"])) + b"".join(_write_base(base, x) for x in v["values"])
    if sparse:
        out += struct.pack(">i", len(v["indices"]))
        for index in v["indices"]:
            out += struct.pack(">H", len(index)) + b"".join(struct.pack(">i", i) for i in index)
    return prefix + out


def binary_row(fields: list[tuple[str, object]], row: list) -> bytes:
    return b"".join(write_value(t, v) for (_, t), v in zip(fields, row))


def binary_frame(fields: list[tuple[str, object]], rows: list[list]) -> bytes:
    schema = json.dumps({"fields": [{"name": n, "type": t} for n, t in fields]}).encode()
    return (struct.pack(">i", len(schema)) + schema + struct.pack(">i", len(rows))
            + b"".join(binary_row(fields, row) for row in rows))


class _Cursor:
    def __init__(self, data: bytes):
        self.data, self.pos = data, 0

    def take(self, fmt: str):
        values = struct.unpack_from(">" + fmt, self.data, self.pos)
        self.pos += struct.calcsize(">" + fmt)
        return values

    def base(self, base: str):
        if base in _CODES:
            return self.take(_CODES[base])[0]
        (n,) = self.take("i")
        raw = self.data[self.pos:self.pos + n]
        self.pos += n
        return raw.decode("utf-8") if base == "string" else raw


def read_value(cur: _Cursor, t):
    kind, base, nullable = _shape(t)
    if nullable and not cur.take("?")[0]:
        return None
    if kind == "basic":
        return cur.base(base)
    if kind == "list":
        (n,) = cur.take("i")
        return [cur.base(base) for _ in range(n)]
    sparse, ndims = cur.take("HH")
    dims = list(cur.take(f"{ndims}i"))
    (n,) = cur.take("i")
    out = {"values": [cur.base(base) for _ in range(n)], "dimensions": dims}
    if sparse:
        (k,) = cur.take("i")
        out["indices"] = [list(cur.take(f"{cur.take('H')[0]}i")) for _ in range(k)]
    return out


def read_binary_frame(data: bytes) -> tuple[list[tuple[str, object]], list[list]]:
    """(fields, rows) of a binary frame; the whole input must be used."""
    cur = _Cursor(data)
    (n,) = cur.take("i")
    schema = json.loads(data[4:4 + n])
    cur.pos = 4 + n
    fields = [(f["name"], f["type"]) for f in schema["fields"]]
    (count,) = cur.take("i")
    rows = [[read_value(cur, t) for _, t in fields] for _ in range(count)]
    assert cur.pos == len(data), f"{len(data) - cur.pos} bytes after the last row"
    return fields, rows


def read_binary_row(fields: list[tuple[str, object]], data: bytes) -> list:
    cur = _Cursor(data)
    row = [read_value(cur, t) for _, t in fields]
    assert cur.pos == len(data)
    return row


def read_json_frame(data: bytes) -> tuple[list[tuple[str, object]], list[list]]:
    obj = json.loads(data)
    return [(f["name"], f["type"]) for f in obj["schema"]["fields"]], obj["rows"]
