"""MLeap LeapFrames and rows, in and out: the JSON (``ml.combust.mleap.json``) and binary
(``ml.combust.mleap.binary``) encodings of mleap-runtime, decoded straight into the columns that
the runtime's batch path (``Pipeline.transform_batch``, as PredictBatch uses it) takes, and result
columns encoded back in the same format. Used by the MLeap gRPC service and meant for an HTTP one
too: nothing here imports grpc.

A frame is a schema (fields with a type: scalar, list or tensor of a basic type, nullable or not)
and rows. JSON: ``{"schema": {"fields": [{"name", "type"}]}, "rows": [[...], ...]}``, a type being
a name (``"double"``; MLeap writes ``"integer"`` for int, ``"int"`` is taken too) or an object
``{"type": "basic"|"list"|"tensor", "base", "isNullable", "dimensions"}``; a tensor value is
``{"values", "dimensions"}``, sparse with ``"indices"`` (a list per value). Binary (Java's
DataOutputStream, big-endian): int32 length and the schema's JSON, int32 row count, then each row's
values in schema order; a nullable value starts with a boolean (present); strings and byte strings
are int32 length + bytes; lists int32 count + elements; tensors a char (0 dense, 1 sparse), a char
with the number of dimensions, an int32 each, an int32 value count and the values, and for sparse
tensors an int32 index count and each index as a char length + int32s. A plain type name is
nullable, as in MLeap.

Values are checked against the frame's own schema here (an error names the field, the row, what
the schema says and what came); converting them to the types a pipeline reads is the runtime's
job. Tensors of one dimension become vectors as the runtime holds them: dense a list of floats,
sparse a SparseVector.
"""

from __future__ import annotations

import base64
import json
import math
import struct
import threading
import weakref
from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

import numpy as np

from leapserve.runtime.errors import InvalidInput, describe
from leapserve.runtime.types import FieldType
from leapserve.runtime.vectors import SparseBatch, SparseVector

from .codec import column_rows
from .errors import parse_json

JSON_FORMAT = "ml.combust.mleap.json"
BINARY_FORMAT = "ml.combust.mleap.binary"
FORMATS = (JSON_FORMAT, BINARY_FORMAT)

BASIC_TYPES = ("boolean", "byte", "short", "int", "long", "float", "double", "string", "byte_string")
_SCALAR_NAMES = {**{b: b for b in BASIC_TYPES}, "integer": "int"}  # MLeap writes "integer" for a scalar int
_INT_BITS = {"byte": 8, "short": 16, "int": 32, "long": 64}
_FIXED = {"boolean": "?", "byte": "b", "short": "h", "int": "i", "long": "q", "float": "f", "double": "d"}
MAX_SCHEMA_BYTES = 1 << 20
MAX_DIMENSIONS = 8
# Fields of one frame or row schema: a binary frame's reader costs time and memory per field (a
# 1 MB schema of 25,000 fields took seconds), so a schema cannot make the server work for nothing.
MAX_FIELDS = 4096
# A binary frame's rows are read by code compiled for its schema (_compiled_reader) only from this
# many rows on: compiling costs about what reading a few hundred rows field by field does.
COMPILE_MIN_ROWS = 512


class FrameError(InvalidInput):
    """A frame or row that cannot be read: names the field (or "frame", "schema"), what was expected
    and what came, and the row when it is one."""


@dataclass(frozen=True)
class FrameField:
    """One field of a frame's schema, as MLeap types it."""

    name: str
    kind: str  # "scalar" | "list" | "tensor"
    base: str  # one of BASIC_TYPES
    nullable: bool = True
    dimensions: tuple[int, ...] | None = None  # tensors only

    def __str__(self) -> str:
        text = self.base if self.kind == "scalar" else f"{self.kind}<{self.base}>"
        if self.dimensions is not None:
            text += str(list(self.dimensions))
        return text + ("" if self.nullable else " (not nullable)")

    def to_json(self):
        if self.kind == "scalar":
            name = "integer" if self.base == "int" else self.base
            if self.nullable:
                return name
            return {"type": "basic", "base": name, "isNullable": False}
        out = {"type": self.kind, "base": self.base}
        if not self.nullable:
            out["isNullable"] = False
        if self.kind == "tensor" and self.dimensions is not None:
            out["dimensions"] = list(self.dimensions)
        return out


def field_of(name: str, ftype: FieldType, nullable: bool | None = None) -> FrameField:
    """The frame field of a pipeline field (a vector is a 1-D double tensor of its size)."""
    dims = None
    if ftype.kind == "tensor":
        dims = (ftype.size,) if ftype.size is not None else None
    return FrameField(name, ftype.kind, ftype.base, ftype.nullable if nullable is None else nullable, dims)


def schema_json(fields: Sequence[FrameField]) -> dict:
    return {"fields": [{"name": f.name, "type": f.to_json()} for f in fields]}


# --- reading schemas ---------------------------------------------------------------------------

def _field_from_json(item, index: int) -> FrameField:
    if not isinstance(item, dict) or not isinstance(item.get("name"), str):
        raise FrameError("schema", 'fields as {"name": a string, "type": a type}', f"field {index}: {describe(item)}")
    name, t = item["name"], item.get("type")
    if isinstance(t, str):
        base = _SCALAR_NAMES.get(t)
        if base is None:
            raise FrameError(name, f"a type among {sorted(_SCALAR_NAMES)} or a type object", f"type {t!r}")
        return FrameField(name, "scalar", base)
    if not isinstance(t, dict):
        raise FrameError(name, "a type name or a type object", describe(t))
    kind = {"basic": "scalar", "list": "list", "tensor": "tensor"}.get(t.get("type")) \
        if isinstance(t.get("type"), str) else None  # a list or object there is no kind (nor hashable)
    if kind is None:
        raise FrameError(name, 'a type object of "type" "basic", "list" or "tensor"', f"type {describe(t.get('type'))}")
    names = _SCALAR_NAMES if kind == "scalar" else {b: b for b in BASIC_TYPES}
    base = names.get(t.get("base")) if isinstance(t.get("base"), str) else None
    if base is None:
        raise FrameError(name, f"a base type among {sorted(names)}", f"base {describe(t.get('base'))}")
    nullable = t.get("isNullable", True)
    if not isinstance(nullable, bool):
        raise FrameError(name, "isNullable a boolean", describe(nullable))
    dims = None
    if kind == "tensor" and t.get("dimensions") is not None:
        d = t["dimensions"]
        if (not isinstance(d, list) or len(d) > MAX_DIMENSIONS
                or not all(type(x) is int and -1 <= x < 1 << 31 for x in d)):
            raise FrameError(name, f"dimensions a list of at most {MAX_DIMENSIONS} sizes", describe(d))
        dims = tuple(d)
    return FrameField(name, kind, base, nullable, dims)


def _check_width(count: int) -> None:
    if count > MAX_FIELDS:
        raise FrameError("schema", f"at most {MAX_FIELDS} fields", f"{count} fields")


def schema_from_json(obj) -> tuple[FrameField, ...]:
    """A frame schema from its JSON ({"fields": [...]}); FrameError when it is not one."""
    fields = obj.get("fields") if isinstance(obj, dict) else None
    if not isinstance(fields, list):
        raise FrameError("schema", 'an object {"fields": [...]}', describe(obj))
    _check_width(len(fields))
    out = tuple(_field_from_json(item, i) for i, item in enumerate(fields))
    seen = set()
    for f in out:
        if f.name in seen:
            raise FrameError(f.name, "each field name once in the schema", f"field {f.name!r} twice")
        seen.add(f.name)
    return out


# Bundle.ML's schema messages (leapserve.bundleml.Schema, MLeap's ml.bundle.Schema)
_PB_BASES = {1: "boolean", 2: "byte", 3: "short", 4: "int", 5: "long", 6: "float", 7: "double", 100: "string",
             101: "byte_string"}
_PB_BASE_NUMBERS = {v: k for k, v in _PB_BASES.items()}
_PB_SHAPES = {0: "scalar", 1: "list", 2: "tensor"}
_PB_SHAPE_NUMBERS = {v: k for k, v in _PB_SHAPES.items()}


def schema_from_message(schema) -> tuple[FrameField, ...]:
    """Frame fields from a Bundle.ML Schema message (a RowStreamSpec's schema)."""
    _check_width(len(schema.fields))
    out = []
    for f in schema.fields:
        base = _PB_BASES.get(f.data_type.base)
        if base is None:
            raise FrameError(f.name or "schema", f"a base type among {list(_PB_BASES.values())}",
                             f"BasicType {f.data_type.base}")
        shape = f.data_type.shape
        kind = _PB_SHAPES.get(shape.base)
        if kind is None:
            raise FrameError(f.name, "shape SCALAR, LIST or TENSOR", f"DataShapeType {shape.base}")
        dims = None
        if kind == "tensor" and shape.HasField("tensor_shape"):
            dims = tuple(d.size for d in shape.tensor_shape.dimensions)
        out.append(FrameField(f.name, kind, base, shape.is_nullable, dims))
    names = [f.name for f in out]
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise FrameError(dup, "each field name once in the schema", f"field {dup!r} twice")
    return tuple(out)


def fill_schema_message(msg, fields: Iterable[FrameField]) -> None:
    """Fill a Bundle.ML Schema message."""
    for f in fields:
        item = msg.fields.add(name=f.name)
        item.data_type.base = _PB_BASE_NUMBERS[f.base]
        shape = item.data_type.shape
        shape.base = _PB_SHAPE_NUMBERS[f.kind]
        shape.is_nullable = f.nullable
        if f.kind == "tensor" and f.dimensions is not None:
            for d in f.dimensions:
                shape.tensor_shape.dimensions.add(size=d)


# --- decoded frames ----------------------------------------------------------------------------

class Frame:
    """A decoded frame: its schema, row count, and one column per field (field -> sequence of
    values, numeric columns without nulls as numpy arrays). ``rows`` keeps what echoing the frame
    back costs least: the JSON row lists, or each binary row's bytes."""

    __slots__ = ("schema", "n", "columns", "rows", "format")

    def __init__(self, schema, n, columns, rows, format):
        self.schema: tuple[FrameField, ...] = schema
        self.n: int = n
        self.columns: dict[str, Sequence] = columns
        self.rows = rows
        self.format: str = format


def _check_format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise FrameError("format", f"{JSON_FORMAT!r} or {BINARY_FORMAT!r}", repr(fmt) if fmt else "nothing")
    return fmt


def decode_frame(data: bytes, fmt: str, *, max_rows: int | None = None, max_string: int = 1 << 20) -> Frame:
    """A frame in ``fmt`` as columns; FrameError (an InvalidInput) when it cannot be read."""
    if _check_format(fmt) == JSON_FORMAT:
        return _decode_json_frame(data, max_rows, max_string)
    return _decode_binary_frame(data, max_rows, max_string)


def _too_many(n: int, max_rows: int | None) -> None:
    if max_rows is not None and n > max_rows:
        raise FrameError("rows", f"at most {max_rows} rows in one frame (--max-batch-rows)", f"{n} rows")


# --- JSON --------------------------------------------------------------------------------------

def _decode_json_frame(data: bytes, max_rows, max_string) -> Frame:
    obj = parse_json(data, "frame", FrameError)
    if not isinstance(obj, dict) or "schema" not in obj or "rows" not in obj:
        raise FrameError("frame", 'a LeapFrame {"schema": {...}, "rows": [...]}', describe(obj))
    schema = schema_from_json(obj["schema"])
    rows = obj["rows"]
    if not isinstance(rows, list):
        raise FrameError("rows", "a list of rows", describe(rows))
    n = len(rows)
    _too_many(n, max_rows)
    width = len(schema)
    for r, row in enumerate(rows):
        if type(row) is not list or len(row) != width:
            raise FrameError("rows", f"row {r}: a list of {width} values (one per schema field)",
                             f"{describe(row)}" if type(row) is not list else f"{len(row)} values", row=r)
    raw_columns = list(zip(*rows)) if n else [()] * width
    columns = {f.name: column_from_json(f, col, max_string) for f, col in zip(schema, raw_columns)}
    return Frame(schema, n, columns, rows, JSON_FORMAT)


_NUMBER_TYPES = {float, int}


def column_from_json(f: FrameField, col: Sequence, max_string: int):
    """One field's JSON values, checked, as a runtime column (numbers without nulls as an array)."""
    types = set(map(type, col))
    nulls = type(None) in types
    if nulls and not f.nullable:
        _refuse_value(f, col, lambda v: v is not None)
    if f.kind == "scalar":
        base = f.base
        if base in ("double", "float"):
            if types <= _NUMBER_TYPES:
                try:
                    return np.array(col, dtype=np.float64)
                except OverflowError:  # an integer beyond any double
                    _refuse_value(f, col, _fits_double)
            _refuse_value(f, col, lambda v: v is None or type(v) in _NUMBER_TYPES)
            try:
                return [None if v is None else float(v) for v in col]
            except OverflowError:  # an integer beyond any double, beside a null
                _refuse_value(f, col, lambda v: v is None or _fits_double(v))
        if base in _INT_BITS:
            if not types <= {int, type(None)}:
                _refuse_value(f, col, lambda v: v is None or type(v) is int)
            _check_int_range(f, col)
            return np.array(col, dtype=np.int64) if not nulls else list(col)
        if base == "boolean":
            if types <= {bool}:
                return np.array(col, dtype=np.bool_)
            _refuse_value(f, col, lambda v: v is None or type(v) is bool)
            return list(col)
        if base == "string":
            if not types <= {str, type(None)}:
                _refuse_value(f, col, lambda v: v is None or type(v) is str)
            _check_lengths(f, col, max_string)
            return list(col)
        return [None if v is None else _b64(f, v, r, max_string) for r, v in enumerate(col)]
    if f.kind == "list":
        return [None if v is None else _json_list(f, v, r, max_string) for r, v in enumerate(col)]
    values = [None if v is None else _json_tensor(f, v, r) for r, v in enumerate(col)]
    return _vector_column(values) if f.base in ("double", "float") else values


def _vector_column(values: list):
    """A tensor column of dense vectors of one size, without nulls, as the 2-D array the batch path
    takes; anything else (nulls, sparse vectors, sizes that differ) stays a list for it to sort out."""
    if values and all(type(v) is list for v in values):
        width = len(values[0])
        if width and all(len(v) == width for v in values):
            try:
                return np.array(values, dtype=np.float64)
            except (TypeError, ValueError):
                return values
    return values


def _expected(f: FrameField) -> str:
    return f"{f} (the frame's schema)"


def _refuse_value(f: FrameField, col: Sequence, ok) -> None:
    for r, v in enumerate(col):
        if v is None and not f.nullable:
            raise FrameError(f.name, _expected(f), "null", row=r)
        if not ok(v):
            raise FrameError(f.name, _expected(f), describe(v), row=r)


def _fits_double(v) -> bool:
    try:
        float(v)
        return True
    except OverflowError:
        return False


def _doubles(f: FrameField, values: list, r: int | None) -> list[float]:
    """JSON numbers (already checked to be numbers) as floats; FrameError for an integer beyond
    any double."""
    try:
        return [float(x) for x in values]
    except OverflowError:
        big = next(x for x in values if not _fits_double(x))
        raise FrameError(f.name, f"{_expected(f)}: numbers within a double's range", describe(big), row=r) from None


def _check_int_range(f: FrameField, col: Sequence) -> None:
    bits = _INT_BITS[f.base]
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    values = [v for v in col if v is not None]
    if values and (min(values) < lo or max(values) > hi):
        for r, v in enumerate(col):
            if v is not None and not lo <= v <= hi:
                raise FrameError(f.name, f"{_expected(f)}: an integer in [{lo}, {hi}]", f"integer {v}", row=r)


def _check_lengths(f: FrameField, col: Sequence, most: int) -> None:
    values = [v for v in col if v is not None]
    if values and max(map(len, values)) > most:
        for r, v in enumerate(col):
            if v is not None and len(v) > most:
                raise FrameError(f.name, f"a string of at most {most} characters (LEAPSERVE_MAX_STRING_LENGTH)",
                                 f"a string of {len(v)} characters", row=r)


def _b64(f: FrameField, v, r: int, most: int) -> bytes:
    if type(v) is not str:
        raise FrameError(f.name, f"{_expected(f)}: base64 text", describe(v), row=r)
    try:
        out = base64.b64decode(v, validate=True)
    except ValueError:
        raise FrameError(f.name, f"{_expected(f)}: base64 text", describe(v), row=r) from None
    if len(out) > most:
        raise FrameError(f.name, f"at most {most} bytes (LEAPSERVE_MAX_STRING_LENGTH)", f"{len(out)} bytes", row=r)
    return out


def _element_ok(base: str):
    if base in ("double", "float"):
        return lambda x: type(x) in _NUMBER_TYPES
    if base in _INT_BITS:
        bits = _INT_BITS[base]
        lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
        return lambda x: type(x) is int and lo <= x <= hi
    if base == "boolean":
        return lambda x: type(x) is bool
    return lambda x: type(x) is str


def _json_list(f: FrameField, v, r: int, most: int) -> list:
    if type(v) is not list:
        raise FrameError(f.name, _expected(f), describe(v), row=r)
    if f.base == "byte_string":
        return [_b64(f, x, r, most) for x in v]
    ok = _element_ok(f.base)
    for x in v:
        if not ok(x):
            raise FrameError(f.name, f"{_expected(f)}: elements of type {f.base}", describe(x), row=r)
    if f.base in ("double", "float"):
        return _doubles(f, v, r)
    if f.base == "string":
        _check_lengths(f, v, most)
    return v


def _json_tensor(f: FrameField, v, r: int):
    expected = f'{_expected(f)}: {{"values": [...], "dimensions": [...]}} (sparse: and "indices")'
    if type(v) is not dict or type(v.get("values")) is not list:
        raise FrameError(f.name, expected, describe(v), row=r)
    values = v["values"]
    dims = v.get("dimensions")
    if dims is None:
        dims = [len(values)] if "indices" not in v else None
    # sizes are Java ints in MLeap (and in the binary format)
    if type(dims) is not list or len(dims) > MAX_DIMENSIONS or not all(type(d) is int and 0 <= d < 1 << 31 for d in dims):
        raise FrameError(f.name, f"{expected}; dimensions non-negative integers below 2147483648", describe(dims), row=r)
    ok = _element_ok(f.base) if f.base != "byte_string" else (lambda x: type(x) is str)
    for x in values:
        if not ok(x):
            raise FrameError(f.name, f"{_expected(f)}: tensor values of type {f.base}", describe(x), row=r)
    indices = v.get("indices")
    return _tensor_value(f, r, dims, values, indices)


class ShapedTensor:
    """A dense tensor of other than one dimension (a matrix, a scalar tensor): its values in row-major
    order and its dimensions, kept so that an answer echoing it writes the same shape. Pipelines read
    vectors (one dimension); one given such a tensor refuses it as any value that is not a vector."""

    __slots__ = ("values", "dimensions")

    def __init__(self, values: list, dimensions: tuple[int, ...]):
        self.values = values
        self.dimensions = dimensions

    def __eq__(self, other):
        return type(other) is ShapedTensor and (self.values, self.dimensions) == (other.values, other.dimensions)

    def __repr__(self):
        return f"tensor of dimensions {list(self.dimensions)}"


def _tensor_value(f: FrameField, r: int, dims, values, indices):
    """A tensor as the runtime holds it: 1-D double/float tensors as vectors, other 1-D ones as
    lists, other shapes as a ShapedTensor."""
    if indices is None:
        size = 1
        for d in dims:
            size *= d
        if len(values) != size:
            raise FrameError(f.name, f"a dense tensor of dimensions {dims}: {size} values",
                             f"{len(values)} values", row=r)
        values = _doubles(f, values, r) if f.base in ("double", "float") else list(values)
        return values if len(dims) == 1 else ShapedTensor(values, tuple(dims))
    if len(dims) != 1:
        raise FrameError(f.name, "a sparse tensor of one dimension (a vector)", f"dimensions {dims}", row=r)
    if type(indices) is not list or not all(type(i) is list and len(i) == 1 and type(i[0]) is int for i in indices):
        raise FrameError(f.name, "sparse indices as a list of one-element integer lists ([[0], [3]])",
                         describe(indices), row=r)
    try:
        return SparseVector.checked(dims[0], [i[0] for i in indices], values, f.name)
    except InvalidInput as e:
        e.row = r
        raise


# --- binary ------------------------------------------------------------------------------------

_INT32 = struct.Struct(">i")
_CHAR = struct.Struct(">H")


class _Reader:
    """Reads one field's values from a binary frame or row."""

    def __init__(self, f: FrameField, max_string: int):
        self.f = f
        self.read = self._make(max_string)

    def _short(self, pos: int, need: int, end: int):
        raise FrameError(self.f.name, f"{need} more bytes for a {self.f} value", f"{end - pos} bytes left (the frame ends)")

    def _make(self, most: int):
        f = self.f
        name = f.name
        base_read = self._base_reader(f.base, most)
        if f.kind == "list":
            def one(buf, pos, end):
                if pos + 4 > end:
                    self._short(pos, 4, end)
                (count,) = _INT32.unpack_from(buf, pos)
                pos += 4
                if count < 0 or count > end - pos:
                    raise FrameError(name, "a list length within the frame", f"length {count}")
                out = []
                for _ in range(count):
                    x, pos = base_read(buf, pos, end)
                    out.append(x)
                return out, pos
        elif f.kind == "tensor":
            def one(buf, pos, end):
                return self._tensor(buf, pos, end, base_read)
        else:
            one = base_read
        if not f.nullable:
            return one

        def nullable(buf, pos, end):
            if pos >= end:
                self._short(pos, 1, end)
            if buf[pos] == 0:  # Java's readBoolean: any other byte is true
                return None, pos + 1
            return one(buf, pos + 1, end)
        return nullable

    def _base_reader(self, base: str, most: int):
        name = self.f.name
        if base in _FIXED:
            s = struct.Struct(">" + _FIXED[base])
            size = s.size
            unpack = s.unpack_from

            def fixed(buf, pos, end):
                if pos + size > end:
                    self._short(pos, size, end)
                return unpack(buf, pos)[0], pos + size
            return fixed

        text = base == "string"

        def sized(buf, pos, end):
            if pos + 4 > end:
                self._short(pos, 4, end)
            (length,) = _INT32.unpack_from(buf, pos)
            pos += 4
            if length < 0 or length > end - pos:
                raise FrameError(name, "a string length within the frame", f"length {length}, {end - pos} bytes left")
            if length > most:
                raise FrameError(name, f"a string of at most {most} bytes (LEAPSERVE_MAX_STRING_LENGTH)",
                                 f"a string of {length} bytes")
            raw = bytes(buf[pos:pos + length])
            if text:
                try:
                    return raw.decode("utf-8"), pos + length
                except UnicodeDecodeError:
                    raise FrameError(name, "UTF-8 text", f"bytes that are not UTF-8: {raw[:40]!r}") from None
            return raw, pos + length
        return sized

    def _tensor(self, buf, pos, end, base_read):
        name = self.f.name
        if pos + 4 > end:
            self._short(pos, 4, end)
        kind, ndims = struct.unpack_from(">HH", buf, pos)
        pos += 4
        if kind not in (0, 1):
            raise FrameError(name, "a tensor kind 0 (dense) or 1 (sparse)", f"kind {kind}")
        if ndims > MAX_DIMENSIONS or pos + 4 * ndims + 4 > end:
            raise FrameError(name, f"a tensor of at most {MAX_DIMENSIONS} dimensions within the frame",
                             f"{ndims} dimensions")
        dims = list(struct.unpack_from(f">{ndims}i", buf, pos))
        pos += 4 * ndims
        (count,) = _INT32.unpack_from(buf, pos)
        pos += 4
        if count < 0 or count > end - pos:
            raise FrameError(name, "a tensor value count within the frame", f"count {count}")
        base = self.f.base
        if base in _FIXED:
            width = struct.calcsize(">" + _FIXED[base])
            if pos + width * count > end:
                self._short(pos, width * count, end)
            values = list(struct.unpack_from(f">{count}{_FIXED[base]}", buf, pos))
            pos += width * count
        else:
            values = []
            for _ in range(count):
                x, pos = base_read(buf, pos, end)
                values.append(x)
        indices = None
        if kind == 1:
            if pos + 4 > end:
                self._short(pos, 4, end)
            (nidx,) = _INT32.unpack_from(buf, pos)
            pos += 4
            if nidx < 0 or nidx > end - pos:
                raise FrameError(name, "a sparse index count within the frame", f"count {nidx}")
            indices = []
            for _ in range(nidx):
                if pos + 2 > end:
                    self._short(pos, 2, end)
                (length,) = _CHAR.unpack_from(buf, pos)
                pos += 2
                if pos + 4 * length > end:
                    self._short(pos, 4 * length, end)
                indices.append(list(struct.unpack_from(f">{length}i", buf, pos)))
                pos += 4 * length
        if any(d < 0 for d in dims):
            raise FrameError(name, "non-negative tensor dimensions", f"dimensions {dims}")
        return _tensor_value(self.f, None, dims, values, indices), pos


class _FixedRun:
    """Consecutive fixed-width scalar fields, read with one struct call per row while no value in
    them is null (a null changes the layout: those rows are read field by field)."""

    def __init__(self, fields: list[FrameField], readers: list[_Reader]):
        self.fields = fields
        self.readers = readers
        fmt = ">" + "".join(("?" if f.nullable else "") + _FIXED[f.base] for f in fields)
        self.struct = struct.Struct(fmt)
        positions, flags, k = [], [], 0
        for f in fields:
            if f.nullable:
                flags.append(k)
                k += 1
            positions.append(k)
            k += 1
        self.positions = positions
        self.flags = flags


def _plan(schema: Sequence[FrameField], max_string: int) -> list:
    """The schema as segments: _FixedRun for runs of fixed-width scalars, _Reader for the rest."""
    plan: list = []
    run_fields: list[FrameField] = []
    run_readers: list[_Reader] = []

    def close():
        if run_fields:
            plan.append(_FixedRun(list(run_fields), list(run_readers)) if len(run_fields) > 1 else run_readers[0])
            run_fields.clear()
            run_readers.clear()

    for f in schema:
        reader = _Reader(f, max_string)
        if f.kind == "scalar" and f.base in _FIXED:
            run_fields.append(f)
            run_readers.append(reader)
        else:
            close()
            plan.append(reader)
    close()
    return plan


def _read_values(plan, buf, pos: int, end: int, out: list) -> int:
    """One row's values (in schema order) appended to ``out``; returns the position after the row."""
    for seg in plan:
        if type(seg) is _FixedRun:
            s = seg.struct
            if pos + s.size <= end:
                t = s.unpack_from(buf, pos)
                if all([t[k] for k in seg.flags]):
                    out.extend([t[k] for k in seg.positions])
                    pos += s.size
                    continue
            for reader in seg.readers:
                v, pos = reader.read(buf, pos, end)
                out.append(v)
        else:
            v, pos = seg.read(buf, pos, end)
            out.append(v)
    return pos


def _compiled_reader(plan, max_string: int):
    """``_read_values`` for one schema as straight-line code (no dispatch per field): a run of
    fixed-width fields is one struct call, a string is read inline; anything unusual (a null in a
    run, a length out of bounds) goes to the field's own reader, which says what is wrong. Text
    that is not UTF-8 raises UnicodeDecodeError: the caller reads that row again with
    ``_read_values`` for the error naming the field."""
    ns: dict = {"I": _INT32.unpack_from, "MOST": max_string}
    lines = ["def read(buf, pos, end, out):", "    append = out.append"]
    for k, seg in enumerate(plan):
        if type(seg) is _FixedRun:
            ns[f"U{k}"], ns[f"S{k}"] = seg.struct.unpack_from, seg.struct.size
            ns[f"R{k}"] = [reader.read for reader in seg.readers]
            check = " and ".join(f"t[{i}]" for i in seg.flags) or "True"
            picked = ", ".join(f"t[{i}]" for i in seg.positions)
            lines += [f"    if pos + S{k} <= end and ({check} if (t := U{k}(buf, pos)) else False):",
                      f"        out += ({picked},)",
                      f"        pos += S{k}",
                      "    else:",
                      f"        for r in R{k}:",
                      "            v, pos = r(buf, pos, end)",
                      "            append(v)"]
            continue
        f = seg.f
        ns[f"R{k}"] = seg.read
        if f.kind == "scalar" and f.base == "string":
            head = 5 if f.nullable else 4
            flag = "buf[pos] and " if f.nullable else ""
            lines += [f"    if pos + {head} <= end and {flag}0 <= (n := I(buf, pos + {head - 4})[0]) <= MOST "
                      f"and (e := pos + {head} + n) <= end:",
                      f"        append(str(buf[pos + {head}:e], 'utf-8'))",
                      "        pos = e",
                      "    else:",
                      f"        v, pos = R{k}(buf, pos, end)",
                      "        append(v)"]
        else:
            lines += [f"    v, pos = R{k}(buf, pos, end)", "    append(v)"]
    lines.append("    return pos")
    exec(compile("\n".join(lines), "<leapserve frame reader>", "exec"), ns)
    return ns["read"]


def _decode_binary_frame(data: bytes, max_rows, max_string) -> Frame:
    buf = memoryview(data)
    end = len(buf)
    if end < 4:
        raise FrameError("frame", "a binary LeapFrame (int32 schema length, schema JSON, int32 row count, rows)",
                         f"{end} bytes")
    (length,) = _INT32.unpack_from(buf, 0)
    if length < 0 or length > min(MAX_SCHEMA_BYTES, end - 8):
        raise FrameError("schema", f"a schema length within the frame (at most {MAX_SCHEMA_BYTES} bytes)",
                         f"length {length} in a frame of {end} bytes")
    schema = schema_from_json(parse_json(bytes(buf[4:4 + length]), "schema", FrameError))
    pos = 4 + length
    (n,) = _INT32.unpack_from(buf, pos)
    pos += 4
    if n < 0:
        raise FrameError("rows", "a row count of at least 0", f"{n}")
    _too_many(n, max_rows)
    plan = _plan(schema, max_string)
    width = len(schema)
    flat: list = []
    rows: list[memoryview] = []
    r = 0
    if n >= COMPILE_MIN_ROWS:
        read = _compiled_reader(plan, max_string)
    else:
        def read(buf, pos, end, out):
            return _read_values(plan, buf, pos, end, out)
    try:
        for r in range(n):
            start = pos
            try:
                pos = read(buf, pos, end, flat)
            except UnicodeDecodeError:
                pos = _read_values(plan, buf, start, end, [])  # raises the FrameError naming the field
            rows.append(buf[start:pos])
    except FrameError as e:
        e.row = r
        raise
    if pos != end:
        raise FrameError("frame", f"{n} rows filling the frame", f"{end - pos} bytes after the last row")
    columns = {}
    for j, f in enumerate(schema):
        col = flat[j::width]
        columns[f.name] = _column_from_binary(f, col)
    return Frame(schema, n, columns, rows, BINARY_FORMAT)


def _column_from_binary(f: FrameField, col: list):
    if f.kind == "tensor" and f.base in ("double", "float"):
        return _vector_column(col)
    if f.kind == "scalar" and None not in col:
        if f.base in ("double", "float"):
            return np.array(col, dtype=np.float64)
        if f.base in _INT_BITS:
            return np.array(col, dtype=np.int64)
        if f.base == "boolean":
            return np.array(col, dtype=np.bool_)
    return col


# --- rows (row streams) ------------------------------------------------------------------------

class RowCodec:
    """Reads rows of one schema and writes rows of another, in one format (a row stream's)."""

    def __init__(self, fmt: str, inputs: Sequence[FrameField], outputs: Sequence[FrameField],
                 max_string: int = 1 << 20):
        self.format = _check_format(fmt)
        self.inputs = tuple(inputs)
        self.outputs = tuple(outputs)
        self.max_string = max_string
        self._plan = _plan(self.inputs, max_string)
        self._writers = [value_writer(f) for f in self.outputs]
        self._jsonify = [json_value_writer(f) for f in self.outputs]

    def decode(self, data: bytes) -> dict:
        """A row as a record (field -> value)."""
        if self.format == JSON_FORMAT:
            row = parse_json(data, "row", FrameError)
            if type(row) is not list or len(row) != len(self.inputs):
                raise FrameError("row", f"a list of {len(self.inputs)} values (one per field of the stream's schema)",
                                 describe(row))
            record = {}
            for f, v in zip(self.inputs, row):
                record[f.name] = _json_single(f, v, self.max_string)
            return record
        buf = memoryview(data)
        values: list = []
        pos = _read_values(self._plan, buf, 0, len(buf), values)
        if pos != len(buf):
            raise FrameError("row", "one row filling the message", f"{len(buf) - pos} bytes after it")
        return {f.name: v for f, v in zip(self.inputs, values)}

    def encode(self, values: Sequence) -> bytes:
        """One row of output values (in the output schema's order)."""
        if self.format == JSON_FORMAT:
            return json.dumps([w(v) for w, v in zip(self._jsonify, values)], separators=(",", ":")).encode()
        return b"".join([w(v) for w, v in zip(self._writers, values)])


def _json_single(f: FrameField, v, most: int):
    col = column_from_json(f, [v], most)
    x = col[0]
    if isinstance(x, np.ndarray):  # a vector's row of a one-row matrix
        return x.tolist()
    return x.item() if isinstance(x, np.generic) else x


# --- writing -----------------------------------------------------------------------------------

class UnwritableValue(ValueError):
    """A result value the output field's type cannot hold (the server's fault, not the client's)."""

    def __init__(self, field: str, expected: str, actual: str):
        self.field, self.expected, self.actual = field, expected, actual
        super().__init__(f"field {field!r}: cannot write the value as {expected}: got {actual}")


def _as_list(v) -> list:
    if isinstance(v, np.ndarray):
        return v.tolist()
    return list(v)


def value_writer(f: FrameField):
    """value -> its binary encoding for field ``f`` (a leading presence flag when nullable)."""
    name = f.name
    if f.kind == "scalar" and f.base in _FIXED:
        pack = struct.Struct(">" + _FIXED[f.base]).pack
        if f.base in ("double", "float"):
            def one(v):
                return pack(float(v))
        elif f.base == "boolean":
            def one(v):
                return pack(bool(v))
        else:
            def one(v):
                return pack(int(v))
    elif f.kind == "scalar":
        one = _sized_writer(f)
    elif f.kind == "list":
        element = _element_writer(f)

        def one(v):
            items = _as_list(v)
            return _INT32.pack(len(items)) + b"".join([element(x) for x in items])
    else:
        one = _tensor_writer(f)

    def checked(v):
        try:
            return one(v)
        except (struct.error, TypeError, ValueError, OverflowError, AttributeError):
            raise UnwritableValue(name, str(f), describe(v)) from None

    if not f.nullable:
        def not_null(v):
            if v is None:
                raise UnwritableValue(name, str(f), "null")
            return checked(v)
        return not_null

    def nullable(v):
        if v is None:
            return b"\x00"
        return b"\x01" + checked(v)
    return nullable


def _sized_writer(f: FrameField):
    if f.base == "string":
        def text(v):
            if type(v) is not str:
                v = str(v) if not isinstance(v, np.generic) else str(v.item())
            b = v.encode("utf-8")
            return _INT32.pack(len(b)) + b
        return text

    def raw(v):
        b = bytes(v)
        return _INT32.pack(len(b)) + b
    return raw


def _element_writer(f: FrameField):
    if f.base in _FIXED:
        pack = struct.Struct(">" + _FIXED[f.base]).pack
        convert = float if f.base in ("double", "float") else (bool if f.base == "boolean" else int)
        return lambda x: pack(convert(x))
    return _sized_writer(f)


_DENSE_HEAD = struct.Struct(">HHii")  # kind, dimensions (1), size, value count


def _tensor_writer(f: FrameField):
    element = _element_writer(f)
    code = _FIXED.get(f.base)

    def values_bytes(values: list) -> bytes:
        if code is not None:
            return struct.pack(f">{len(values)}{code}", *values)
        return b"".join([element(x) for x in values])

    def one(v):
        if isinstance(v, SparseVector):
            head = _DENSE_HEAD.pack(1, 1, v.size, len(v.values))
            idx = b"".join([struct.pack(">Hi", 1, i) for i in v.indices])
            return head + values_bytes(list(v.values)) + _INT32.pack(len(v.indices)) + idx
        if isinstance(v, ShapedTensor):
            dims = v.dimensions
            return (struct.pack(f">HH{len(dims)}i", 0, len(dims), *dims) + _INT32.pack(len(v.values))
                    + values_bytes(v.values))
        values = _as_list(v)
        return _DENSE_HEAD.pack(0, 1, len(values), len(values)) + values_bytes(values)
    return one


def _json_number(x):
    """A float as JSON holds it: NaN and infinities have no JSON text (Python would write NaN,
    which MLeap's and most parsers refuse); MLeap's writer (spray-json) makes them null."""
    x = float(x)
    return x if math.isfinite(x) else None


def _json_numbers(values: list) -> list:
    return [x if type(x) is not float or math.isfinite(x) else None for x in values]


def json_value_writer(f: FrameField):
    """value -> its JSON form for field ``f``."""
    if f.kind == "scalar":
        if f.base == "byte_string":
            return lambda v: None if v is None else base64.b64encode(bytes(v)).decode("ascii")
        if f.base in ("double", "float"):
            return lambda v: None if v is None else _json_number(v)
        if f.base in _INT_BITS:
            return lambda v: None if v is None else int(v)
        if f.base == "boolean":
            return lambda v: None if v is None else bool(v)
        return lambda v: None if v is None else (v if type(v) is str else str(v))
    if f.kind == "list":
        if f.base == "byte_string":
            return lambda v: None if v is None else [base64.b64encode(bytes(x)).decode("ascii") for x in v]
        if f.base in ("double", "float"):
            return lambda v: None if v is None else [_json_number(x) for x in _as_list(v)]
        return lambda v: None if v is None else _as_list(v)
    return _json_tensor_value


def _json_tensor_value(v):
    if v is None:
        return None
    if isinstance(v, SparseVector):
        return {"indices": [[i] for i in v.indices], "values": _json_numbers(list(v.values)), "dimensions": [v.size]}
    if isinstance(v, ShapedTensor):
        return {"values": _json_numbers(v.values), "dimensions": list(v.dimensions)}
    values = _json_numbers(_as_list(v))
    return {"values": values, "dimensions": [len(values)]}


# --- result columns -> frames ------------------------------------------------------------------

def binary_cells(f: FrameField, col, n: int) -> list[bytes]:
    """Each row's encoding of one result column (whole numpy columns at once where they can be)."""
    if isinstance(col, np.ndarray) and col.dtype != object and col.dtype.kind in "fiub":
        if f.kind == "scalar" and f.base in ("double", "float") and col.ndim == 1:
            code = ">f8" if f.base == "double" else ">f4"
            if f.nullable:
                rec = np.empty(n, dtype=[("p", "u1"), ("v", code)])
                rec["p"] = 1
                rec["v"] = col
            else:
                rec = col.astype(code)
            data = rec.tobytes()
            w = rec.dtype.itemsize
            return [data[i:i + w] for i in range(0, n * w, w)]
        if f.kind == "tensor" and f.base == "double" and col.ndim == 2:
            d = col.shape[1]
            head = (b"\x01" if f.nullable else b"") + _DENSE_HEAD.pack(0, 1, d, d)
            data = col.astype(">f8").tobytes()
            w = 8 * d
            return [head + data[i:i + w] for i in range(0, n * w, w)]
    if isinstance(col, SparseBatch) and f.kind == "tensor" and f.base == "double":
        return _binary_sparse(f, col, n)
    write = value_writer(f)
    return [write(v) for v in column_rows(col, n)]


_SPARSE_INDEX = np.dtype([("n", ">u2"), ("i", ">i4")])  # each index: a char (1) and an int32


def _binary_sparse(f: FrameField, col: SparseBatch, n: int) -> list[bytes]:
    """A sparse vector column straight from its CSR arrays: each row's values and indices are
    slices of two buffers."""
    values = np.ascontiguousarray(col.values, dtype=">f8").tobytes()
    idx = np.empty(len(col.indices), dtype=_SPARSE_INDEX)
    idx["n"] = 1
    idx["i"] = col.indices
    indices = idx.tobytes()
    flag = b"\x01" if f.nullable else b""
    head = struct.Struct(">HHii").pack
    count = _INT32.pack
    size = col.size
    ptr = col.indptr.tolist()
    return [flag + head(1, 1, size, b - a) + values[8 * a:8 * b] + count(b - a) + indices[6 * a:6 * b]
            for a, b in zip(ptr, ptr[1:n + 1])]


def json_cells(f: FrameField, col, n: int) -> list:
    values = column_rows(col, n)
    if (f.kind == "scalar" and isinstance(col, np.ndarray) and col.dtype != object
            and (f.base == "string" or (f.base == "double" and _all_finite(col)))):
        return values
    write = json_value_writer(f)
    return [write(v) for v in values]


from json.encoder import encode_basestring_ascii as _json_string  # noqa: E402  (C when available)

_float_text = float.__repr__  # a finite float's repr is its JSON text


def _all_finite(values: np.ndarray) -> bool:
    return values.size == 0 or bool(np.isfinite(values).all())


def json_cell_texts(f: FrameField, col, n: int) -> list[str]:
    """Each row's JSON text of one column: numbers and vectors written from whole numpy columns
    (a finite float's repr is its JSON), the rest value by value through json."""
    if isinstance(col, np.ndarray) and col.dtype != object:
        if col.ndim == 1 and col.dtype.kind == "f" and f.kind == "scalar" and _all_finite(col):
            return list(map(_float_text, col.tolist()))
        if col.ndim == 1 and col.dtype.kind in "iu" and f.kind == "scalar":
            return list(map(int.__repr__, col.tolist()))
        if col.ndim == 2 and col.dtype.kind == "f" and f.kind == "tensor" and _all_finite(col):
            tail = f',"dimensions":[{col.shape[1]}]}}'
            return ['{"values":' + repr(row) + tail for row in col.tolist()]
    if isinstance(col, SparseBatch) and f.kind == "tensor" and _all_finite(col.values):
        tail = f',"dimensions":[{col.size}]}}'
        indices = [f"[{i}]" for i in col.indices.tolist()]
        values = col.values.tolist()
        ptr = col.indptr.tolist()
        return ['{"indices":[' + ",".join(indices[a:b]) + '],"values":' + repr(values[a:b]) + tail
                for a, b in zip(ptr, ptr[1:n + 1])]
    if f.kind == "scalar" and f.base == "string" and not (isinstance(col, np.ndarray) and col.dtype != object):
        return [_json_string(v) if type(v) is str else json.dumps(json_value_writer(f)(v)) for v in col]
    write = json_value_writer(f)
    dumps = json.dumps
    return [dumps(write(v)) for v in column_rows(col, n)]


def _json_frame_text(fields: Sequence[FrameField], columns: Sequence, n: int, keep) -> bytes:
    texts = [json_cell_texts(f, c, n) for f, c in zip(fields, columns)]
    rows = ["[" + ",".join(parts) + "]" for parts in zip(*texts)] if texts else ["[]"] * n
    if keep is not None:
        rows = [row for row, k in zip(rows, keep.tolist()) if k]
    schema = json.dumps(schema_json(fields), separators=(",", ":"))
    return ('{"schema":' + schema + ',"rows":[' + ",".join(rows) + "]}").encode()


def encode_frame(fmt: str, fields: Sequence[FrameField], columns: Sequence, n: int,
                 keep: np.ndarray | None = None, echo_rows: Sequence | None = None) -> bytes:
    """A frame of ``fields``. ``columns`` hold the values of the last ``len(columns)`` fields
    (runtime columns or lists of row values); the fields before them are the input frame's, echoed
    from ``echo_rows`` (its decoded ``Frame.rows``: JSON lists or binary row bytes, not re-encoded).
    ``keep``: the rows to write (a boolean mask; None: all)."""
    _check_format(fmt)
    echoed = len(fields) - len(columns)
    if fmt == JSON_FORMAT and not echoed:
        return _json_frame_text(fields, columns, n, keep)
    if fmt == JSON_FORMAT:
        cols = [json_cells(f, c, n) for f, c in zip(fields[echoed:], columns)]
        if echo_rows is not None and echoed:
            rows = [list(a) + list(b) for a, b in zip(echo_rows, zip(*cols))] if cols else [list(a) for a in echo_rows]
        else:
            rows = [list(t) for t in zip(*cols)] if cols else [[] for _ in range(n)]
        if keep is not None:
            rows = [row for row, k in zip(rows, keep.tolist()) if k]
        return json.dumps({"schema": schema_json(fields), "rows": rows}, separators=(",", ":")).encode()
    cols = [binary_cells(f, c, n) for f, c in zip(fields[echoed:], columns)]
    if echo_rows is not None and echoed:
        cols.insert(0, echo_rows)
    rows = list(map(b"".join, zip(*cols))) if cols else [b""] * n
    if keep is not None:
        rows = [row for row, k in zip(rows, keep.tolist()) if k]
    schema = json.dumps(schema_json(fields), separators=(",", ":")).encode()
    return b"".join([_INT32.pack(len(schema)), schema, _INT32.pack(len(rows)), *rows])




# --- scoring frames and rows -------------------------------------------------------------------

def _output_fields(pipeline, names: Sequence[str]) -> list[FrameField]:
    return [field_of(name, pipeline.schema(name)) for name in names]


# pipeline -> {(input schema, select, relaxed): (fields, wanted)}: a client sends the same schema and
# select frame after frame. Held weakly: a reloaded model's entries go with its old pipeline.
_SELECTIONS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_SELECTIONS_LOCK = threading.Lock()
_SELECTIONS_PER_PIPELINE = 64  # schemas and selects come from clients: the cache stays bounded


def _selection(pipeline, in_fields: Sequence[FrameField], select: Sequence[str], relaxed: bool):
    """_find_selection's answer, kept per pipeline, input schema and select (a refusal is not kept)."""
    key = (tuple(in_fields), tuple(select), relaxed)
    cache = _SELECTIONS.get(pipeline)
    found = cache.get(key) if cache is not None else None
    if found is None:
        found = _find_selection(pipeline, in_fields, select, relaxed)
        with _SELECTIONS_LOCK:
            cache = _SELECTIONS.get(pipeline)
            if cache is None or len(cache) >= _SELECTIONS_PER_PIPELINE:
                cache = _SELECTIONS[pipeline] = {}
            cache[key] = found
    return found


def _find_selection(pipeline, in_fields: Sequence[FrameField], select: Sequence[str], relaxed: bool):
    """(fields of the answer, outputs to compute) for a select (empty: every input field, then
    every output). STRICT refuses a name that is neither (MLeap: "invalid field"); RELAXED leaves
    it out. Without a select, an input field the pipeline also writes is refused, as MLeap refuses
    to add a field a frame has."""
    in_names = {f.name for f in in_fields}
    outputs = pipeline.outputs
    if not select:
        clash = [name for name in outputs if name in in_names]
        if clash:
            raise FrameError(", ".join(clash), "input fields other than those the pipeline adds",
                             f"the frame already has {', '.join(map(repr, clash))}")
        return tuple(in_fields) + tuple(_output_fields(pipeline, list(outputs))), tuple(outputs)
    chosen = list(dict.fromkeys(select))
    unknown = [name for name in chosen if name not in in_names and name not in outputs]
    if unknown and not relaxed:
        raise FrameError(", ".join(unknown), f"fields of the frame or outputs of the pipeline ({sorted(outputs)}); "
                         "select_mode RELAXED leaves unknown ones out", "invalid field(s) " + ", ".join(map(repr, unknown)))
    by_name = {f.name: f for f in in_fields}
    fields, wanted = [], []
    for name in chosen:
        if name in by_name:
            fields.append(by_name[name])
        elif name in outputs:
            fields.append(field_of(name, pipeline.schema(name)))
            wanted.append(name)
    return tuple(fields), tuple(wanted)


def transform_frame(pipeline, frame: Frame, select: Sequence[str] = (), relaxed: bool = False) -> bytes:
    """Score a decoded frame with the runtime's batch path and encode the answer in the frame's
    format: the whole frame (its fields, then every output), or the selected fields in their
    order. Rows Spark drops (handle_invalid "skip") are left out, as MLeap filters them. Raises the
    runtime's ScoringError (naming the row) or FrameError."""
    fields, wanted = _selection(pipeline, frame.schema, select, relaxed)
    keep = None
    result = {}
    if wanted:
        result = pipeline.transform_batch(frame.columns, wanted)
        if result.skipped.any():
            keep = ~result.skipped
    if not select and frame.format == BINARY_FORMAT:  # the input rows' bytes are copied, not re-encoded
        return encode_frame(frame.format, fields, [result[name] for name in wanted], frame.n, keep, frame.rows)
    columns = [result[f.name] if f.name in result else frame.columns[f.name] for f in fields]
    return encode_frame(frame.format, fields, columns, frame.n, keep)


def _schema_difference(a: Sequence[FrameField], b: Sequence[FrameField]) -> str:
    """How two schemas differ in names, kinds or base types ("" when they do not; nullability
    and dimensions are the encoder's business)."""
    if [f.name for f in a] != [f.name for f in b]:
        return f"fields {[f.name for f in a]} instead of {[f.name for f in b]}"
    for x, y in zip(a, b):
        if (x.kind, x.base) != (y.kind, y.base):
            return f"field {x.name!r} of type {x} instead of {y}"
    return ""


class RowStreamPlan:
    """A row stream of one model: the schema of the rows it reads, the fields it answers (the
    spec's fields then every output, or the selected ones) and the outputs it computes. Checked when
    the stream is made (FrameError for a STRICT select of an unknown field, the runtime's
    MissingInput for inputs the rows lack)."""

    def __init__(self, pipeline, fmt: str, in_fields: Sequence[FrameField], select: Sequence[str] = (),
                 relaxed: bool = False):
        self.format = _check_format(fmt)
        self.in_fields = tuple(in_fields)
        out_fields, wanted = _selection(pipeline, self.in_fields, select, relaxed)
        self.out_fields = tuple(out_fields)
        self.wanted = tuple(wanted)
        from leapserve.runtime.plan import missing_input

        missing = missing_input(pipeline.required_inputs(self.wanted), {f.name for f in self.in_fields},
                                pipeline.inputs)
        if missing is not None:
            raise missing

    def codec(self, in_fields: Sequence[FrameField] | None = None, out_fields: Sequence[FrameField] | None = None,
              max_string: int = 1 << 20) -> RowCodec:
        """The codec of a stream's rows; a client's own schemas (a TransformRowRequest's) must name the
        same fields with the same types (their nullability decides the encoding)."""
        for given, mine, what in ((in_fields, self.in_fields, "input_schema"), (out_fields, self.out_fields,
                                                                               "output_schema")):
            if given:
                diff = _schema_difference(given, mine)
                if diff:
                    raise FrameError(what, f"the row stream's {what.split('_')[0]} schema", diff)
        return RowCodec(self.format, in_fields or self.in_fields, out_fields or self.out_fields, max_string)

    def transform(self, pipeline, codec: RowCodec, data: bytes) -> bytes:
        """One row scored with the runtime's row path; b"" for a row Spark drops (MLeap answers an
        empty row)."""
        from leapserve.runtime.errors import RowSkipped

        record = codec.decode(data)
        result = {}
        if self.wanted:
            try:
                result = pipeline.transform(record, self.wanted)
            except RowSkipped:
                return b""
        return codec.encode([result[f.name] if f.name in result else record[f.name] for f in codec.outputs])


__all__ = ["BINARY_FORMAT", "FORMATS", "Frame", "FrameError", "FrameField", "JSON_FORMAT", "RowCodec",
           "RowStreamPlan", "ShapedTensor", "UnwritableValue", "decode_frame", "encode_frame", "field_of", "fill_schema_message",
           "schema_from_json", "schema_from_message", "schema_json", "transform_frame"]
