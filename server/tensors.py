"""Between Open Inference Protocol tensors and the runtime's batch columns (the codec of
services/oip.py).

Tensors follow the tabular convention: one tensor per field, shaped [n] or [n, 1] for n records,
[n, d] for vectors of size d; strings are BYTES, raw BYTES contents hold each element after its
length as a 4-byte little-endian integer (as tritonclient serializes them). A tensor that does not
fit its field raises the runtime's InvalidInput.

This module imports nothing of the OIP generated code (it would clash with other copies of the
``inference`` package, e.g. tritonclient's, in one process); it works on the messages it is given.
"""

from __future__ import annotations

import json
import math
import struct

import numpy as np

from leapserve.runtime.container import limits
from leapserve.runtime.errors import InvalidInput
from leapserve.runtime.types import FieldType
from leapserve.runtime.vectors import SparseBatch, SparseVector

from .codec import string_too_long


NUMPY_OF_DATATYPE = {
    "BOOL": np.dtype(np.bool_), "INT8": np.dtype("<i1"), "INT16": np.dtype("<i2"),
    "INT32": np.dtype("<i4"), "INT64": np.dtype("<i8"), "UINT8": np.dtype("<u1"),
    "UINT16": np.dtype("<u2"), "UINT32": np.dtype("<u4"), "UINT64": np.dtype("<u8"),
    "FP16": np.dtype("<f2"), "FP32": np.dtype("<f4"), "FP64": np.dtype("<f8"),
}
CONTENTS_FIELD = {
    "BOOL": "bool_contents", "INT8": "int_contents", "INT16": "int_contents", "INT32": "int_contents",
    "INT64": "int64_contents", "UINT8": "uint_contents", "UINT16": "uint_contents",
    "UINT32": "uint_contents", "UINT64": "uint64_contents", "FP32": "fp32_contents",
    "FP64": "fp64_contents", "BYTES": "bytes_contents",
}
_DATATYPE_OF_BASE = {"double": "FP64", "float": "FP32", "int": "INT32", "long": "INT64", "short": "INT16",
                     "byte": "INT8", "boolean": "BOOL", "string": "BYTES", "byte_string": "BYTES"}


def datatype_of(ftype: FieldType) -> str:
    """The OIP datatype of a field's elements (a vector's are FP64, a list<string>'s BYTES)."""
    return _DATATYPE_OF_BASE.get(ftype.base, "BYTES")


def tensor_shape(ftype: FieldType) -> list[int]:
    """Metadata shape: -1 for the record count (and for sizes the bundle does not fix)."""
    if ftype.kind == "tensor":
        return [-1, ftype.size if ftype.size is not None else -1]
    if ftype.kind == "list":
        return [-1, -1]
    return [-1]


def deserialize_bytes(raw: bytes, count: int, name: str) -> list[bytes]:
    """Length-prefixed BYTES elements (4-byte little-endian length, then the bytes)."""
    out = []
    pos = 0
    end = len(raw)
    unpack = struct.unpack_from
    for _ in range(count):
        if pos + 4 > end:
            raise InvalidInput(name, f"{count} length-prefixed BYTES elements", f"{len(out)} before the data ran out")
        (length,) = unpack("<I", raw, pos)
        pos += 4
        if pos + length > end:
            raise InvalidInput(name, "a BYTES element within the data", f"a length of {length} past its end")
        out.append(raw[pos:pos + length])
        pos += length
    if pos != end:
        raise InvalidInput(name, f"{count} BYTES elements", f"{end - pos} bytes left over")
    return out


def serialize_bytes(items) -> bytes:
    pack = struct.pack
    parts = []
    for b in items:
        parts.append(pack("<I", len(b)))
        parts.append(b)
    return b"".join(parts)


def _as_text(name: str, b: bytes, most: int) -> str:
    if len(b) > most:
        raise string_too_long(name, most, len(b), "bytes")
    try:
        return b.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput(name, "UTF-8 text", f"bytes {b[:20]!r}") from None


MAX_DIMENSION = 2_147_483_647  # Spark's largest vector size; also the most elements in one tensor
_INTEGER_CONTENTS = {"INT8", "INT16", "UINT8", "UINT16"}  # carried in 32-bit contents: range-checked


def check_shape(tensor) -> int:
    """The element count of a tensor's shape, after checking every dimension (non-negative, at most
    MAX_DIMENSION) and their product (at most MAX_DIMENSION), before anything is allocated."""
    name = tensor.name
    shape = list(tensor.shape)
    if any(d < 0 for d in shape):
        raise InvalidInput(name, "a shape of non-negative sizes", f"shape {shape}")
    if any(d > MAX_DIMENSION for d in shape):
        raise InvalidInput(name, f"dimensions of at most {MAX_DIMENSION} each", f"shape {shape}")
    count = math.prod(shape) if shape else 1
    if count > MAX_DIMENSION:
        raise InvalidInput(name, f"at most {MAX_DIMENSION} elements in all", f"{count} (shape {shape})")
    return count


def _typed_integers(name: str, datatype: str, values, dtype: np.dtype) -> np.ndarray:
    """int_contents / uint_contents (32-bit on the wire) as a narrower type, refusing values out of its range."""
    wide = np.array(values, dtype=np.int64)
    info = np.iinfo(dtype)
    bad = np.flatnonzero((wide < info.min) | (wide > info.max))
    if bad.size:
        i = int(bad[0])
        raise InvalidInput(name, f"{datatype} values ({info.min} to {info.max})", f"{int(wide[i])} (element {i})")
    return wide.astype(dtype)


def tensor_elements(tensor, raw: bytes | None):
    """(numpy array or list of bytes, element count) of an input tensor, from raw or typed contents."""
    name = tensor.name
    datatype = tensor.datatype
    shape = list(tensor.shape)
    count = check_shape(tensor)
    if datatype == "BYTES":
        if raw is not None:
            return deserialize_bytes(raw, count, name), count
        items = list(tensor.contents.bytes_contents)
        if len(items) != count:
            raise InvalidInput(name, f"{count} elements for shape {shape}", f"{len(items)}")
        return items, count
    dtype = NUMPY_OF_DATATYPE.get(datatype)
    if dtype is None:
        raise InvalidInput(name, "a datatype among " + ", ".join([*NUMPY_OF_DATATYPE, "BYTES"]), repr(datatype))
    if raw is not None:
        if len(raw) != count * dtype.itemsize:
            raise InvalidInput(name, f"{count * dtype.itemsize} raw bytes for {datatype} shape {shape}",
                               f"{len(raw)} bytes")
        return np.frombuffer(raw, dtype=dtype), count
    field = CONTENTS_FIELD.get(datatype)
    if field is None:
        raise InvalidInput(name, f"{datatype} as raw_input_contents (it has no typed contents)", "typed contents")
    values = getattr(tensor.contents, field)
    if len(values) != count:
        raise InvalidInput(name, f"{count} elements for shape {shape}", f"{len(values)}")
    if datatype in _INTEGER_CONTENTS:
        return _typed_integers(name, datatype, values, dtype), count
    return np.array(values, dtype=dtype), count


def input_column(ftype: FieldType, tensor, raw: bytes | None, max_string: int | None = None):
    """An input tensor as a runtime batch column; returns (column, record count). BYTES elements
    longer than ``max_string`` bytes (default: LEAPSERVE_MAX_STRING_LENGTH) are refused."""
    name = tensor.name
    most = limits().max_string_length if max_string is None else max_string
    shape = list(tensor.shape)
    data, count = tensor_elements(tensor, raw)
    if not shape:
        raise InvalidInput(name, "a shape of [n] or [n, 1]", "no shape")
    n = shape[0]
    is_bytes = tensor.datatype == "BYTES"
    if ftype.kind == "tensor":
        if len(shape) != 2:
            raise InvalidInput(name, f"a shape of [n, {ftype.size or 'd'}] for {ftype}", f"shape {shape}")
        if ftype.size is not None and shape[1] != ftype.size:
            raise InvalidInput(name, f"vectors of size {ftype.size} (shape [n, {ftype.size}])", f"shape {shape}")
        if is_bytes:
            raise InvalidInput(name, f"a numeric tensor for {ftype}", "BYTES")
        return np.asarray(data, dtype=np.float64).reshape(n, shape[1]), n
    if ftype.kind == "list":
        if is_bytes:
            rows = [_as_text(name, b, most) for b in data]
            if len(shape) == 2 and shape[1] != 1 or len(shape) > 2:
                width = count // n if n else 0
                return _object_rows([rows[i * width:(i + 1) * width] for i in range(n)]), n
            return _object_rows([_json_list(name, t) for t in rows]), n
        if len(shape) != 2:
            raise InvalidInput(name, f"a shape of [n, k] for {ftype}", f"shape {shape}")
        arr = np.asarray(data).reshape(n, shape[1])
        return _object_rows([row.tolist() for row in arr]), n
    if len(shape) > 2 or (len(shape) == 2 and shape[1] != 1):
        raise InvalidInput(name, f"a shape of [n] or [n, 1] for {ftype}", f"shape {shape}")
    if is_bytes:
        if ftype.base == "byte_string":
            for b in data:
                if len(b) > most:
                    raise string_too_long(name, most, len(b), "bytes")
            return _object_rows(list(data)), n
        texts = np.empty(n, dtype=object)
        texts[:] = [_as_text(name, b, most) for b in data]
        return texts, n
    return np.ascontiguousarray(data).reshape(n), n


def _object_rows(rows: list) -> np.ndarray:
    out = np.empty(len(rows), dtype=object)
    out[:] = rows
    return out


def _json_list(name: str, text: str):
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        value = None
    if not isinstance(value, list):
        raise InvalidInput(name, "a JSON list of strings per element (or a [n, k] BYTES tensor)", repr(text[:40]))
    return value


def output_size(ftype: FieldType, col, n: int) -> tuple[str, list[int], int | None]:
    """(datatype, shape, bytes) of the tensor output_tensor would build, without building it; bytes
    is None for BYTES tensors (their size is known once built, and no larger than the strings the
    pipeline made). A sparse vector column is measured as the dense tensor it becomes."""
    if ftype.kind == "tensor" or (isinstance(col, np.ndarray) and col.ndim == 2) or isinstance(col, SparseBatch):
        if isinstance(col, SparseBatch):
            width = col.size
        elif isinstance(col, np.ndarray) and col.dtype != object:
            width = col.shape[1] if col.ndim == 2 else (col.size // n if n else 0)
        else:
            first = next((v for v in col if v is not None), None)
            width = (first.size if isinstance(first, SparseVector) else len(first)) if first is not None \
                else (ftype.size or 0)
        datatype = "FP32" if ftype.base == "float" else "FP64"
        return datatype, [n, int(width)], n * int(width) * NUMPY_OF_DATATYPE[datatype].itemsize
    datatype = "BYTES" if ftype.kind == "list" else datatype_of(ftype)
    if datatype == "BYTES":
        return datatype, [n], None
    return datatype, [n], n * NUMPY_OF_DATATYPE[datatype].itemsize


def tensor_nbytes(datatype: str, data) -> int:
    """The size of a built tensor's contents (BYTES: each element and its 4-byte length)."""
    if datatype == "BYTES":
        return sum(len(b) for b in data) + 4 * len(data)
    return int(np.asarray(data).nbytes)


def output_tensor(ftype: FieldType, col, n: int, skipped: np.ndarray | None):
    """(datatype, shape, numpy array or list of bytes) of an output column."""
    if ftype.kind == "tensor" or (isinstance(col, np.ndarray) and col.ndim == 2) or isinstance(col, SparseBatch):
        if isinstance(col, SparseBatch):
            arr = col.toarray()
        elif isinstance(col, np.ndarray) and col.dtype != object:
            arr = np.asarray(col, dtype=np.float64)
        else:
            rows = [np.asarray(v.toarray() if isinstance(v, SparseVector) else v, dtype=np.float64)
                    if v is not None else None for v in col]
            width = next((len(r) for r in rows if r is not None), ftype.size or 0)
            arr = np.full((n, width), np.nan)
            for i, r in enumerate(rows):
                if r is not None:
                    arr[i] = r
        arr = arr.reshape(n, -1) if n else arr.reshape(0, ftype.size or 0)
        if skipped is not None:
            arr = arr.copy()
            arr[skipped] = np.nan
        dtype = "FP32" if ftype.base == "float" else "FP64"
        return dtype, [n, arr.shape[1]], arr.astype(NUMPY_OF_DATATYPE[dtype], copy=False)
    if ftype.kind == "list":
        items = [b"" if v is None else json.dumps(list(v)).encode() for v in col]
        if skipped is not None:
            items = [b"" if s else b for b, s in zip(items, skipped)]
        return "BYTES", [n], items
    datatype = datatype_of(ftype)
    if datatype == "BYTES":
        items = [b"" if v is None else (v if isinstance(v, bytes) else str(v).encode("utf-8")) for v in col]
        if skipped is not None:
            items = [b"" if s else b for b, s in zip(items, skipped)]
        return "BYTES", [n], items
    dtype = NUMPY_OF_DATATYPE[datatype]
    if isinstance(col, np.ndarray) and col.dtype != object:
        arr = col
    else:
        fill = np.nan if dtype.kind == "f" else 0
        arr = np.array([fill if v is None else v for v in col])
    if skipped is not None and skipped.any():
        arr = np.array(arr, dtype=np.float64 if dtype.kind == "f" else arr.dtype)
        arr[skipped] = np.nan if dtype.kind == "f" else 0
    return datatype, [n], np.asarray(arr).astype(dtype, copy=False).reshape(n)


def tensor_raw(datatype: str, data) -> bytes:
    if datatype == "BYTES":
        return serialize_bytes(data)
    return np.ascontiguousarray(data).tobytes()


def fill_contents(contents, datatype: str, data) -> None:
    field = CONTENTS_FIELD[datatype]
    values = data if datatype == "BYTES" else np.asarray(data).reshape(-1).tolist()
    getattr(contents, field).extend(values)
