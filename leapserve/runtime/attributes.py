"""Typed access to a model's attributes, the same for JSON and protobuf bundles.

Both formats are first turned into the JSON form of section 1.6 of the Bundle.ML reference
(``{"double": 1.0}``, ``{"type": "list", "string": [...]}``, ``{"type": "tensor", ...}``), then read
through typed getters. The getters carry the format's traps:

* MLeap omits protobuf-default scalars, so ``{}`` means 0, 0.0, false or "" depending on the type
  the op expects; a list without its data key is empty;
* ``null`` stands for NaN (or a lost infinity) in doubles and in double lists;
* 2-D tensors written from Spark matrices are column-major.

Attributes come from untrusted files: every list and tensor is refused past ``max_length`` values
(LEAPSERVE_MAX_ATTRIBUTE_LENGTH, see container.py), protobuf tensors before their bytes are
unpacked, and every malformed value is a BundleError naming the model file.
"""

from __future__ import annotations

import math
import re
import struct
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import BundleError

_MISSING = object()

SCALAR_KEYS = ("boolean", "byte", "short", "int", "long", "float", "double", "string", "byte_string")
BASIC_TYPE_NAMES = {
    0: "unknown", 1: "boolean", 2: "byte", 3: "short", 4: "int", 5: "long", 6: "float", 7: "double",
    100: "string", 101: "byte_string",
}
_SHAPE_NAMES = {0: "scalar", 1: "list", 2: "tensor"}
_TENSOR_STRUCT = {"double": "d", "float": "f", "long": "q", "int": "i", "short": "h", "byte": "b"}
# An int64 written as a string, as proto3's JSON form writes it: a sign and ASCII digits only
# (str.isdigit and int() would also take other scripts' digits, Kawi's from Python 3.12 on).
_INT64_TEXT = re.compile(r"-?[0-9]{1,19}")


@dataclass(frozen=True)
class DataShape:
    """A DataShape attribute: scalar, list or tensor (with known dimensions or None)."""

    base: str
    nullable: bool = True
    dims: tuple[int, ...] | None = None


@dataclass(frozen=True)
class TensorValue:
    base: str
    dims: tuple[int, ...]
    values: list


def _num(v):
    """A JSON double: null stands for NaN (spray-json writes NaN and infinities as null)."""
    return math.nan if v is None else v


def _int64(text: str) -> int | None:
    """An int64 written as a string (proto3's JSON form), or None."""
    if _INT64_TEXT.fullmatch(text):
        n = int(text)
        if -(1 << 63) <= n < (1 << 63):
            return n
    return None


DEFAULT_MAX_LENGTH = 1 << 24
DEFAULT_MAX_VECTOR_SIZE = 1 << 24


class Attributes:
    """The attributes of one model.json / model.pb, read with the types the op expects."""

    def __init__(self, raw: dict[str, Any], where: str, *, max_length: int | None = None,
                 max_vector_size: int | None = None):
        if not isinstance(raw, dict):
            raise BundleError(f"attributes must be an object, found {type(raw).__name__}", path=where)
        self.raw = raw
        self.where = where
        self.max_length = max_length if max_length is not None else DEFAULT_MAX_LENGTH
        self.max_vector_size = max_vector_size if max_vector_size is not None else DEFAULT_MAX_VECTOR_SIZE

    def _check_length(self, name: str, count: int) -> None:
        if count > self.max_length:
            raise self._err(name, f"has {count} values, over the limit of {self.max_length} "
                                  "(LEAPSERVE_MAX_ATTRIBUTE_LENGTH)")

    def __contains__(self, name: str) -> bool:
        return name in self.raw

    def names(self) -> list[str]:
        return sorted(self.raw)

    def _err(self, name: str, msg: str) -> BundleError:
        return BundleError(f"attribute {name!r}: {msg}", path=self.where)

    def _get(self, name: str, default):
        if name not in self.raw:
            if default is _MISSING:
                raise self._err(name, "is missing")
            return None
        value = self.raw[name]
        if not isinstance(value, dict):
            raise self._err(name, f"expected an attribute object, found {type(value).__name__}")
        return value

    def _scalar(self, name: str, default, keys: tuple[str, ...], zero):
        value = self._get(name, default)
        if value is None:
            return default
        kind = value.get("type")
        if kind in ("list", "tensor"):
            raise self._err(name, f"expected a scalar, found a {kind}")
        for key in keys:
            if key in value:
                return value[key]
        other = [k for k in value if k in SCALAR_KEYS]
        if other:
            raise self._err(name, f"expected {keys[0]}, found {other[0]}")
        return zero  # protobuf default omitted by the writer

    # --- scalars ---------------------------------------------------------------------------

    def double(self, name: str, default=_MISSING) -> float:
        v = self._scalar(name, default, ("double", "float", "long", "int"), 0.0)
        if v is default and default is not _MISSING:
            return v
        if v is None:
            return math.nan
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise self._err(name, f"expected a number, found {v!r}")
        return float(v)

    def long(self, name: str, default=_MISSING) -> int:
        v = self._scalar(name, default, ("long", "int", "short", "byte"), 0)
        if v is default and default is not _MISSING:
            return v
        if isinstance(v, bool) or not isinstance(v, int):
            if isinstance(v, float) and v.is_integer():
                return int(v)
            if isinstance(v, str) and (n := _int64(v)) is not None:
                return n
            raise self._err(name, f"expected an integer, found {v!r}")
        return v

    int = long

    def size(self, name: str, default=_MISSING) -> int:
        """A size attribute (a vector's width, a number of features, an input size): an integer no
        larger than LEAPSERVE_MAX_VECTOR_SIZE. A size is a promise of memory that no data in the
        bundle backs (20 000 000 in 600 bytes), so every op reads its sizes here; the op checks
        the lower bound itself."""
        n = self.long(name, default)
        if n is None:
            return n
        return self.check_size(n, f"attribute {name!r}")

    def check_size(self, n: int, what: str) -> int:
        """Refuse a vector width ``n`` (``what``: what holds it, for the message) over the limit."""
        if n > self.max_vector_size:
            raise BundleError(f"{what}: a vector of {n} values, over the limit of {self.max_vector_size} "
                              "(LEAPSERVE_MAX_VECTOR_SIZE)", path=self.where)
        return n

    def boolean(self, name: str, default=_MISSING) -> bool:
        v = self._scalar(name, default, ("boolean",), False)
        if v is default and default is not _MISSING:
            return v
        if not isinstance(v, bool):
            raise self._err(name, f"expected a boolean, found {v!r}")
        return v

    def string(self, name: str, default=_MISSING) -> str:
        v = self._scalar(name, default, ("string",), "")
        if v is default and default is not _MISSING:
            return v
        if not isinstance(v, str):
            raise self._err(name, f"expected a string, found {v!r}")
        return v

    def data_shape(self, name: str, default=_MISSING) -> DataShape:
        v = self._scalar(name, default, ("data_shape",), None)
        if v is default and default is not _MISSING:
            return v
        if v is None:
            raise self._err(name, "expected a data_shape")
        return self._parse_shape(name, v)

    # --- lists -----------------------------------------------------------------------------

    def _list(self, name: str, default, key: str):
        value = self._get(name, default)
        if value is None:
            return default
        kind = value.get("type")
        if kind == "tensor" and key in value:  # some writers store a list as a 1-D tensor
            items = value[key]
        elif kind != "list":
            raise self._err(name, f"expected a list of {key}, found {kind or 'a scalar'}")
        else:
            other = [k for k in value if k not in ("type", key)]
            if key not in value and other:
                raise self._err(name, f"expected a list of {key}, found a list of {other[0]}")
            items = value.get(key, [])
        if not isinstance(items, list):
            raise self._err(name, f"expected a JSON array, found {type(items).__name__}")
        self._check_length(name, len(items))
        return items

    def double_list(self, name: str, default=_MISSING) -> list[float]:
        items = self._list(name, default, "double")
        if items is default and default is not _MISSING:
            return items
        out = []
        for v in items:
            v = _num(v)
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise self._err(name, f"expected numbers, found {v!r}")
            out.append(float(v))
        return out

    def long_list(self, name: str, default=_MISSING) -> list[int]:
        value = self._get(name, default)
        if value is None:
            return default
        key = "long" if "long" in value or "int" not in value else "int"
        items = self._list(name, default, key)
        out = []
        for v in items:
            if isinstance(v, str) and (n := _int64(v)) is not None:
                v = n
            if isinstance(v, bool) or not isinstance(v, int):
                raise self._err(name, f"expected integers, found {v!r}")
            out.append(v)
        return out

    int_list = long_list

    def string_list(self, name: str, default=_MISSING) -> list[str]:
        items = self._list(name, default, "string")
        if items is default and default is not _MISSING:
            return items
        for v in items:
            if not isinstance(v, str):
                raise self._err(name, f"expected strings, found {v!r}")
        return list(items)

    def boolean_list(self, name: str, default=_MISSING) -> list[bool]:
        items = self._list(name, default, "boolean")
        if items is default and default is not _MISSING:
            return items
        for v in items:
            if not isinstance(v, bool):
                raise self._err(name, f"expected booleans, found {v!r}")
        return list(items)

    def data_shape_list(self, name: str, default=_MISSING) -> list[DataShape]:
        items = self._list(name, default, "data_shape")
        if items is default and default is not _MISSING:
            return items
        return [self._parse_shape(name, v) for v in items]

    def basic_type_list(self, name: str, default=_MISSING) -> list[str]:
        items = self._list(name, default, "basic_type")
        if items is default and default is not _MISSING:
            return items
        return [str(v) for v in items]

    def tensor_list(self, name: str, default=_MISSING) -> list[TensorValue]:
        items = self._list(name, default, "tensor")
        if items is default and default is not _MISSING:
            return items
        return [self._parse_tensor(name, v) for v in items]

    # --- tensors ---------------------------------------------------------------------------

    def tensor(self, name: str, default=_MISSING) -> TensorValue:
        value = self._get(name, default)
        if value is None:
            return default
        kind = value.get("type")
        if kind == "list":
            raise self._err(name, "expected a tensor, found a list")
        if kind != "tensor" and "tensor" in value:  # tensor stored as a scalar
            value = value["tensor"]
        elif kind != "tensor":
            raise self._err(name, "expected a tensor, found a scalar")
        return self._parse_tensor(name, value)

    def vector(self, name: str, default=_MISSING) -> list[float]:
        """A 1-D double tensor (or double list) as a list of floats."""
        value = self._get(name, default)
        if value is None:
            return default
        if value.get("type") == "list":
            return self.double_list(name)
        t = self.tensor(name)
        if len(t.dims) > 1:
            raise self._err(name, f"expected a 1-D tensor, found dimensions {list(t.dims)}")
        return [float(v) for v in t.values]

    def matrix(self, name: str, default=_MISSING) -> np.ndarray:
        """A 2-D tensor written from a Spark matrix: dims [rows, cols], values column-major."""
        t = self.tensor(name, default)
        if t is default and default is not _MISSING:
            return t
        if len(t.dims) != 2:
            raise self._err(name, f"expected a 2-D tensor, found dimensions {list(t.dims)}")
        return column_major(t, lambda msg: self._err(name, msg))

    # --- parsing helpers -------------------------------------------------------------------

    def _parse_tensor(self, name: str, value) -> TensorValue:
        if not isinstance(value, dict):
            raise self._err(name, "tensor must be an object")
        base = next((k for k in SCALAR_KEYS if k in value), None)
        if base is None:
            raise self._err(name, "tensor has no values")
        values = value[base]
        if not isinstance(values, list):
            raise self._err(name, "tensor values must be an array")
        self._check_length(name, len(values))
        if base in ("double", "float"):
            values = [_num(v) for v in values]
        dims = tuple(_dims(value.get("shape"), lambda msg: self._err(name, msg)))
        expected = math.prod(dims) if dims else 1
        if dims and expected != len(values):
            raise self._err(name, f"tensor has {len(values)} values for dimensions {list(dims)}")
        return TensorValue(base, dims, values)

    def _parse_shape(self, name: str, value) -> DataShape:
        if not isinstance(value, dict) or value.get("base") not in ("scalar", "list", "tensor"):
            raise self._err(name, f"invalid data shape {value!r}")
        dims = None
        if "tensorShape" in value:
            dims = tuple(_dims(value["tensorShape"], lambda msg: self._err(name, msg)))
            for d in dims:
                self.check_size(d, f"attribute {name!r}")
        return DataShape(value["base"], bool(value.get("isNullable", False)), dims)


def column_major(t: TensorValue, err) -> np.ndarray:
    rows, cols = t.dims
    if rows * cols != len(t.values):
        raise err(f"matrix has {len(t.values)} values for {rows}x{cols}")
    return np.asarray(t.values, dtype=np.float64).reshape((cols, rows)).T.copy()


def _dims(shape, err) -> list[int]:
    if shape is None:
        return []
    if not isinstance(shape, dict) or not isinstance(shape.get("dimensions", []), list):
        raise err(f"invalid tensor shape {shape!r}")
    out = []
    for d in shape.get("dimensions", []):
        size = d.get("size", 0) if isinstance(d, dict) else None
        if isinstance(size, bool) or not isinstance(size, int):
            raise err(f"invalid tensor dimension {str(d)[:60]}")
        if size < 0:
            raise err(f"negative tensor dimension {size}")
        out.append(size)
    return out


# --- protobuf -> JSON form -----------------------------------------------------------------

def _too_long(count: int, max_length: int) -> None:
    if count > max_length:
        raise BundleError(f"an attribute has {count} values, over the limit of {max_length} "
                          "(LEAPSERVE_MAX_ATTRIBUTE_LENGTH)")


def _pb_tensor(t, max_length: int = DEFAULT_MAX_LENGTH) -> dict:
    base = BASIC_TYPE_NAMES.get(t.base, "unknown")
    data = t.value
    if base in _TENSOR_STRUCT:
        fmt = _TENSOR_STRUCT[base]
        size = struct.calcsize(fmt)
        if len(data) % size:
            raise BundleError(f"{base} tensor has {len(data)} bytes, not a multiple of {size}")
        _too_long(len(data) // size, max_length)
        values = list(struct.unpack(f">{len(data) // size}{fmt}", data))
    elif base == "boolean":
        _too_long(len(data), max_length)
        values = [b == 1 for b in data]
    elif base in ("string", "byte_string"):
        values, pos = [], 0
        while pos < len(data):
            _too_long(len(values) + 1, max_length)
            if pos + 4 > len(data):
                raise BundleError("truncated string tensor")
            (n,) = struct.unpack_from(">i", data, pos)
            pos += 4
            if n < 0 or pos + n > len(data):
                raise BundleError("truncated string tensor")
            chunk = data[pos:pos + n]
            values.append(chunk.decode("latin-1") if base == "string" else chunk)
            pos += n
    else:
        raise BundleError(f"tensor of unknown base type {t.base}")
    _too_long(len(t.shape.dimensions), max_length)
    return {base: values, "shape": _pb_shape(t.shape), "type": "tensor"}


def _pb_shape(shape) -> dict:
    return {"dimensions": [{"size": d.size, "name": d.name} for d in shape.dimensions]}


def _pb_data_shape(ds) -> dict:
    out = {"base": _SHAPE_NAMES.get(ds.base, "scalar"), "isNullable": ds.is_nullable}
    if ds.HasField("tensor_shape"):
        out["tensorShape"] = _pb_shape(ds.tensor_shape)
    return out


def _pb_model(m, max_length: int = DEFAULT_MAX_LENGTH) -> dict:
    return {"op": m.op, "attributes": _pb_attribute_map(m.attributes, max_length)}


def pb_value(v, max_length: int = DEFAULT_MAX_LENGTH) -> dict:
    """One protobuf Value in the JSON form."""
    kind = v.WhichOneof("v")
    if kind == "t":
        return _pb_tensor(v.t, max_length)
    if kind == "l":
        lst = v.l
        out = {"type": "list"}
        for field, key, conv in (
            ("b", "boolean", list), ("s", "string", list), ("i", "int", list), ("l", "long", list),
            ("f", "float", list), ("d", "double", list), ("bs", "byte_string", list),
        ):
            items = getattr(lst, field)
            if len(items):
                _too_long(len(items), max_length)
                out[key] = conv(items)
        for field in ("t", "bt", "ds", "m"):
            _too_long(len(getattr(lst, field)), max_length)
        if len(lst.t):
            out["tensor"] = [{k: val for k, val in _pb_tensor(t, max_length).items() if k != "type"}
                             for t in lst.t]
        if len(lst.bt):
            out["basic_type"] = [BASIC_TYPE_NAMES.get(b, "unknown") for b in lst.bt]
        if len(lst.ds):
            out["data_shape"] = [_pb_data_shape(d) for d in lst.ds]
        if len(lst.m):
            out["model"] = [_pb_model(m, max_length) for m in lst.m]
        return out
    out = {}
    if kind == "s":
        s = v.s
        if s.b:
            out["boolean"] = True
        if s.s:
            out["string"] = s.s
        if s.i:
            out["int"] = s.i
        if s.l:
            out["long"] = s.l
        if s.f:
            out["float"] = s.f
        if s.d:
            out["double"] = s.d
        if s.bs:
            out["byte_string"] = s.bs
        if s.HasField("t"):
            out["tensor"] = _pb_tensor(s.t, max_length)
        if s.bt:
            out["basic_type"] = BASIC_TYPE_NAMES.get(s.bt, "unknown")
        if s.HasField("ds"):
            out["data_shape"] = _pb_data_shape(s.ds)
        if s.HasField("m"):
            out["model"] = _pb_model(s.m, max_length)
    return out


def _pb_attribute_map(attrs, max_length: int) -> dict:
    return {name: pb_value(value, max_length) for name, value in attrs.list.items()}


def pb_attributes(attrs, *, where: str | None = None, max_length: int | None = None) -> dict:
    """A protobuf Attributes message in the JSON form; errors name ``where`` (the model file)."""
    try:
        return _pb_attribute_map(attrs, max_length if max_length is not None else DEFAULT_MAX_LENGTH)
    except BundleError as e:
        if e.path is None and where is not None:
            raise BundleError(str(e), path=where) from None
        raise
    except RecursionError:
        raise BundleError("attributes nested too deeply", path=where) from None
