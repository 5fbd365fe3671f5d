"""Between the wire and the runtime: leapserve.v1 Values on one side, the plain Python values and
columns of leapserve.runtime on the other.

Decoding only unwraps values (a Value's double becomes a float, a vector a list of floats or a
SparseVector); converting them to the types a pipeline expects is the runtime's job (MLeap's
casting rules, leapserve/runtime/types.py). What cannot be decoded (a malformed sparse vector)
raises the runtime's InvalidInput, as a wrong value would. Encoding is decided per output field
once, when a model is loaded (``ModelCodec``), so that answering a request runs no type dispatch it
can avoid.

The Open Inference Protocol's tensors have their own codec: server/tensors.py.
"""

from __future__ import annotations

import operator
import struct
from typing import Callable, Mapping, Sequence

import numpy as np

from leapserve.v1 import value_pb2

from leapserve.runtime.container import Limits, limits
from leapserve.runtime.errors import InvalidInput, describe
from leapserve.runtime.types import INTEGRAL_BASES, FieldType
from leapserve.runtime.vectors import DenseVector, SparseBatch, SparseVector

from .wire import (TAG_BOOL_VALUE, TAG_DOUBLE_VALUE, TAG_FLOAT_VALUE, TAG_INT_VALUE, TAG_NULL_VALUE, TAG_STRING_VALUE,
                   TAG_VECTOR_INDICES, TAG_VECTOR_SIZE, TAG_VECTOR_VALUE, TAG_VECTOR_VALUES, MapTags, varint)

Value = value_pb2.Value

_SCALAR_KINDS = frozenset({"double_value", "float_value", "int_value", "bool_value", "string_value", "bytes_value"})
_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1
MAX_VECTOR_SIZE = (1 << 31) - 1
_TEXT_KINDS = frozenset({"string_value", "bytes_value"})


def string_too_long(name: str, most: int, length: int, unit: str = "characters") -> InvalidInput:
    """A request string over LEAPSERVE_MAX_STRING_LENGTH: the field, the limit, the length."""
    return InvalidInput(name, f"a string of at most {most} {unit} (LEAPSERVE_MAX_STRING_LENGTH)",
                        f"a string of {length} {unit}")


# --- leapserve.v1.Value -> Python ------------------------------------------------------------

def decode_value(name: str, v, max_string: int | None = None):
    """A Value as the plain Python value the runtime casts (None for null or an empty Value);
    strings longer than ``max_string`` (default: LEAPSERVE_MAX_STRING_LENGTH) are refused."""
    if max_string is None:
        max_string = limits().max_string_length
    kind = v.WhichOneof("kind")
    if kind in _SCALAR_KINDS:
        x = getattr(v, kind)
        if kind in _TEXT_KINDS and len(x) > max_string:
            raise string_too_long(name, max_string, len(x), "characters" if kind == "string_value" else "bytes")
        return x
    if kind == "vector_value":
        return decode_vector(name, v.vector_value)
    if kind == "list_value":
        return [decode_value(name, x, max_string) for x in v.list_value.values]
    return None


def decode_vector(name: str, vec):
    """Dense (a list of floats) when there are no indices and size is 0 or the number of values;
    otherwise sparse, checked like any untrusted input."""
    values = vec.values
    size = vec.size
    if not vec.indices and (size == 0 or size == len(values)):
        return list(values)
    if size < 0:
        raise InvalidInput(name, "a vector with a non-negative size", f"size {size}")
    if size > MAX_VECTOR_SIZE:  # Spark's vectors are indexed by Int
        raise InvalidInput(name, f"a vector size Spark can hold (at most {MAX_VECTOR_SIZE})", f"size {size}")
    return SparseVector.checked(size, vec.indices, values, name)


# --- Python -> leapserve.v1.Value ------------------------------------------------------------

def set_null(msg, x=None) -> None:
    msg.null_value = 0


def _set_double(msg, x) -> None:
    if x is None:
        msg.null_value = 0
    else:
        msg.double_value = x


def _set_float(msg, x) -> None:
    if x is None:
        msg.null_value = 0
    else:
        msg.float_value = x


def _set_int(msg, x) -> None:
    if x is None:
        msg.null_value = 0
    else:
        msg.int_value = x


def _set_bool(msg, x) -> None:
    if x is None:
        msg.null_value = 0
    else:
        msg.bool_value = bool(x)


def _set_string(msg, x) -> None:
    if x is None:
        msg.null_value = 0
    elif type(x) is str:
        msg.string_value = x
    else:
        encode_value(msg, x)


def _set_vector(msg, x) -> None:
    if x is None:
        msg.null_value = 0
        return
    vec = msg.vector_value
    if isinstance(x, SparseVector):
        vec.size = x.size
        vec.indices.extend(x.indices)
        vec.values.extend(x.values)
        return
    values = x.tolist() if isinstance(x, np.ndarray) else x
    vec.size = len(values)
    vec.values.extend(values)


class UnencodableValue(ValueError):
    """A value that no leapserve.v1.Value holds: names the field, what a Value holds and what came.
    Not a ScoringError: from a pipeline's output it is the server's fault, not the client's."""

    def __init__(self, field: str | None, expected: str, actual: str):
        self.field, self.expected, self.actual = field, expected, actual
        where = f"field {field!r}: " if field is not None else ""
        super().__init__(f"{where}cannot encode the value as a leapserve.v1.Value: expected {expected}, got {actual}")


_ENCODABLE = ("null, a boolean, a 64-bit integer, a number, a string, bytes, a list, or a vector "
              '({"values": [...]} with optional "indices" and "size")')


def encode_value(msg, x, field: str | None = None) -> None:
    """Fill a Value from any Python value the runtime produces (or a client would send); what
    cannot be encoded raises UnencodableValue naming ``field``."""
    if x is None:
        msg.null_value = 0
    elif isinstance(x, bool):
        msg.bool_value = x
    elif isinstance(x, int):
        if not _INT64_MIN <= x <= _INT64_MAX:
            raise UnencodableValue(field, "an integer that fits in 64 bits", f"integer {x}")
        msg.int_value = x
    elif isinstance(x, float):
        msg.double_value = x
    elif isinstance(x, str):
        msg.string_value = x
    elif isinstance(x, (bytes, bytearray)):
        msg.bytes_value = bytes(x)
    elif isinstance(x, (SparseVector, DenseVector)):
        _set_vector(msg, x)
    elif isinstance(x, np.ndarray):
        if x.ndim == 1 and x.dtype.kind in "fiu":
            _set_vector(msg, x.astype(np.float64, copy=False))
        else:
            encode_value(msg, x.tolist(), field)
    elif isinstance(x, np.generic):
        encode_value(msg, x.item(), field)
    elif isinstance(x, (list, tuple)):
        values = msg.list_value.values
        msg.list_value.SetInParent()
        for item in x:
            encode_value(values.add(), item, field)
    elif isinstance(x, dict) and "values" in x:
        _encode_vector_mapping(msg.vector_value, x, field)
    else:
        raise UnencodableValue(field, _ENCODABLE, describe(x))


def _encode_vector_mapping(vec, x: dict, field: str | None) -> None:
    """A vector given as {"values": [...], "indices": [...], "size": n} (indices and size optional)."""
    try:
        values = [float(v) for v in x["values"]]
        if x.get("indices") is not None:
            vec.size = int(x.get("size", 0))
            vec.indices.extend(int(i) for i in x["indices"])
        else:
            vec.size = len(values)
    except (TypeError, ValueError, OverflowError):  # protobuf's range errors are ValueErrors too
        raise UnencodableValue(field, 'a vector: "values" a list of numbers, "indices" a list of integers, '
                                      '"size" an integer', describe(x)) from None
    vec.values.extend(values)


def setter_for(ftype: FieldType) -> Callable:
    """The function that writes a row value of this field type into a Value message."""
    if ftype.kind == "scalar":
        if ftype.base == "double":
            return _set_double
        if ftype.base == "float":
            return _set_float
        if ftype.base in INTEGRAL_BASES:
            return _set_int
        if ftype.base == "boolean":
            return _set_bool
        if ftype.base == "string":
            return _set_string
    if ftype.is_vector:
        return _set_vector
    return encode_value


# --- columns of a batch ----------------------------------------------------------------------

def column_rows(col, n: int) -> list:
    """A runtime column (an output of transform_batch: numpy array, SparseBatch, list) as a list of
    plain row values (a matrix's rows as lists, numpy scalars as Python's)."""
    if isinstance(col, SparseBatch):
        return [col.row(i) for i in range(n)]
    if isinstance(col, np.ndarray):
        if col.dtype == object and col.ndim == 1:
            return [x.item() if isinstance(x, np.generic) else x for x in col.tolist()]
        return col.tolist()
    return list(col)


# A scalar input's base -> the reader of the Value kind a client most likely sends for it
# (decode_record reads that kind first)
_EXPECTED_READERS = {
    "double": operator.attrgetter("double_value"), "float": operator.attrgetter("double_value"),
    **{base: operator.attrgetter("int_value") for base in INTEGRAL_BASES},
    "string": operator.attrgetter("string_value"), "boolean": operator.attrgetter("bool_value"),
}


# --- per-model codec -------------------------------------------------------------------------

class ModelCodec:
    """Everything about a pipeline's fields that answering a request needs, decided once."""

    max_string_length: int = Limits.max_string_length  # the default, until __init__ reads the environment

    def __init__(self, pipeline):
        self.inputs: dict[str, FieldType] = dict(pipeline.inputs)
        self.outputs: dict[str, FieldType] = dict(pipeline.outputs)
        self.input_names: tuple[str, ...] = tuple(self.inputs)
        self.output_names: tuple[str, ...] = tuple(self.outputs)
        self.setters: dict[str, Callable] = {name: setter_for(t) for name, t in self.outputs.items()}
        self.default_encoders: tuple = tuple(self.setters.items())
        self._wire: dict[tuple, WireEncoder] = {}
        # input field -> the reader of the Value kind its type suggests (decode_record)
        self._expected_reader = {name: _EXPECTED_READERS[t.base] for name, t in self.inputs.items()
                                 if t.kind == "scalar" and t.base in _EXPECTED_READERS}.get
        # Read with the model's other limits, when it is loaded (a malformed value stops the server at start).
        self.max_string_length: int = limits().max_string_length

    def decode_record(self, fields: Mapping) -> dict:
        """A protobuf map of field -> Value as a record (fields the pipeline does not read are
        decoded too: cheaper than looking each wanted one up, and harmless)."""
        record = {}
        most = self.max_string_length
        reader_of = self._expected_reader
        for name in fields:
            v = fields[name]  # upb: faster than items()
            read = reader_of(name)
            if read is not None:
                # The kind the input's type suggests: a value other than its default can only be the
                # one set (the others of a oneof read as defaults), and skips WhichOneof.
                x = read(v)
                if x:
                    if type(x) is str and len(x) > most:
                        raise string_too_long(name, most, len(x))
                    record[name] = x
                    continue
            kind = v.WhichOneof("kind")
            if kind in _SCALAR_KINDS:
                x = record[name] = getattr(v, kind)
                if kind in _TEXT_KINDS and len(x) > most:
                    raise string_too_long(name, most, len(x), "characters" if kind == "string_value" else "bytes")
            else:
                record[name] = decode_value(name, v, most)
        return record

    def encoders(self, wanted: Sequence[str] | None) -> tuple:
        """(name, setter) for the wanted outputs (names already checked by the runtime)."""
        if not wanted:
            return self.default_encoders
        setters = self.setters
        return tuple((name, setters[name]) for name in dict.fromkeys(wanted) if name in setters)

    def encode_outputs(self, out_map, result: Mapping, wanted: Sequence[str] | None = None) -> None:
        for name, setter in self.encoders(wanted):
            try:
                setter(out_map[name], result[name])
            except UnencodableValue as e:
                raise _named(e, name) from None

    def wire(self, wanted: Sequence[str] | None, tags: MapTags) -> "WireEncoder":
        """The wire encoder of the wanted outputs (all by default) as the map field of ``tags``."""
        key = (tuple(wanted) if wanted else (), tags)
        enc = self._wire.get(key)
        if enc is None:
            names = list(dict.fromkeys(wanted)) if wanted else list(self.output_names)
            enc = WireEncoder(self.outputs, [n for n in names if n in self.outputs], tags)
            if len(self._wire) > 64:  # output selections come from clients: keep this bounded
                self._wire.clear()
            self._wire[key] = enc
        return enc


# --- writing responses straight to the wire ---------------------------------------------------
#
# Building a protobuf map entry by entry from Python costs a few microseconds per output (each
# entry is a new message object); answering one record writes ten or so. The hot paths therefore
# write the protobuf encoding of PredictResponse / PredictBatchResponse themselves: map entries
# and Values are length-delimited byte strings whose key parts are computed once per model.
# Values the fast encoders do not cover fall back to a Value message's own serialization. The
# services register serializers that pass such bytes through unchanged. Every field's tag (its
# number and wire type) comes from server/wire.py, which takes it from the generated descriptors.

_F64 = np.dtype("<f8")

# Whole encoded Values, and the tag-then-number packers of the two floating-point kinds
_NULL_VALUE = Value.DESCRIPTOR.fields_by_name["null_value"].enum_type.values_by_name["NULL_VALUE"]
_NULL = TAG_NULL_VALUE + varint(_NULL_VALUE.number)
_TRUE, _FALSE = TAG_BOOL_VALUE + varint(1), TAG_BOOL_VALUE + varint(0)
_pack_double = struct.Struct(f"<{len(TAG_DOUBLE_VALUE)}sd").pack
_pack_float = struct.Struct(f"<{len(TAG_FLOAT_VALUE)}sf").pack


def delimited(tag: bytes, payload: bytes) -> bytes:
    return tag + varint(len(payload)) + payload


def _wire_fallback(x) -> bytes:
    msg = Value()
    encode_value(msg, x)
    return msg.SerializeToString()


def _named(error: UnencodableValue, name: str) -> UnencodableValue:
    """The same error naming the output field it came from (the encoders do not know it)."""
    return UnencodableValue(name, error.expected, error.actual)


def _wire_double(x) -> bytes:
    if x is None:
        return _NULL
    return _pack_double(TAG_DOUBLE_VALUE, x)


def _wire_float(x) -> bytes:
    if x is None:
        return _NULL
    return _pack_float(TAG_FLOAT_VALUE, x)


def _wire_int(x) -> bytes:
    if x is None:
        return _NULL
    return TAG_INT_VALUE + varint(int(x))


def _wire_bool(x) -> bytes:
    if x is None:
        return _NULL
    return _TRUE if x else _FALSE


def _wire_string(x) -> bytes:
    if type(x) is str:
        b = x.encode("utf-8")
        return TAG_STRING_VALUE + varint(len(b)) + b
    if x is None:
        return _NULL
    return _wire_fallback(x)


def _vector_body(size: int, indices, values: bytes) -> bytes:
    body = TAG_VECTOR_SIZE + varint(size) if size else b""
    if indices:
        packed = b"".join([varint(int(i)) for i in indices])
        body += TAG_VECTOR_INDICES + varint(len(packed)) + packed
    if values:
        body += TAG_VECTOR_VALUES + varint(len(values)) + values
    return body


def _wire_vector(x) -> bytes:
    if isinstance(x, np.ndarray) and x.ndim == 1:
        data = x.astype(_F64, copy=False).tobytes()
        body = _vector_body(x.shape[0], (), data)
    elif isinstance(x, SparseVector):
        body = _vector_body(x.size, x.indices, struct.pack(f"<{len(x.values)}d", *x.values))
    elif isinstance(x, (DenseVector, list)):
        body = _vector_body(len(x), (), struct.pack(f"<{len(x)}d", *x))
    elif x is None:
        return _NULL
    else:
        return _wire_fallback(x)
    return TAG_VECTOR_VALUE + varint(len(body)) + body


def wire_encoder_for(ftype: FieldType) -> Callable:
    """The function that turns a row value of this field type into an encoded Value."""
    if ftype.kind == "scalar":
        if ftype.base == "double":
            return _wire_double
        if ftype.base == "float":
            return _wire_float
        if ftype.base in INTEGRAL_BASES:
            return _wire_int
        if ftype.base == "boolean":
            return _wire_bool
        if ftype.base == "string":
            return _wire_string
    if ftype.is_vector:
        return _wire_vector
    return _wire_fallback


def map_entry_prefix(tags: MapTags, key: str) -> bytes:
    """A map<string, Value> entry up to its Value: the key, then the Value's tag (computed once per
    output name)."""
    b = key.encode("utf-8")
    return tags.key + varint(len(b)) + b + tags.value


def entry_writer(tag: bytes, prefix: bytes, enc: Callable) -> Callable[[object], bytes]:
    """A whole map entry (its tag, length, key and Value) for a row value, ``enc`` writing the Value.
    A double, a float or a dense vector of one of the first eight sizes seen is one struct.pack of the
    value after a head computed once: everything before the number(s) depends on the size only."""

    def framed(value: bytes) -> bytes:
        entry = prefix + varint(len(value)) + value
        return tag + varint(len(entry)) + entry

    null = framed(_NULL)
    if enc is _wire_double or enc is _wire_float:
        code = "d" if enc is _wire_double else "f"
        width = struct.calcsize(code)
        head = framed(enc(0.0))[:-width]
        pack = struct.Struct(f"<{len(head)}s{code}").pack
        return lambda x: null if x is None else pack(head, x)
    if enc is _wire_vector:
        packers: dict[int, tuple[bytes, Callable]] = {}  # size -> (head, pack)

        def vector(x) -> bytes:
            if type(x) is DenseVector and x:
                found = packers.get(len(x))
                if found is None and len(packers) < 8:  # a vector column's rows usually share one size
                    head = framed(enc(DenseVector((0.0,) * len(x))))[:-8 * len(x)]
                    found = packers[len(x)] = head, struct.Struct(f"<{len(head)}s{len(x)}d").pack
                if found is not None:
                    head, pack = found
                    return pack(head, *x)
            return framed(enc(x))

        return vector
    return lambda x: framed(enc(x))


class WireEncoder:
    """Writes the outputs of one record as the entries of a map<string, Value> field."""

    __slots__ = ("fields", "entry_tag", "writers")

    def __init__(self, outputs: Mapping[str, FieldType], names: Sequence[str], tags: MapTags):
        self.fields = tuple((name, map_entry_prefix(tags, name), wire_encoder_for(outputs[name])) for name in names)
        self.entry_tag = tags.entry
        self.writers = tuple((name, entry_writer(tags.entry, prefix, enc)) for name, prefix, enc in self.fields)

    def encode(self, result: Mapping) -> bytes:
        parts = []
        for name, write in self.writers:
            try:
                parts.append(write(result[name]))
            except UnencodableValue as e:
                raise _named(e, name) from None
        return b"".join(parts)

    def encode_columns(self, columns: Mapping, n: int, types: Mapping[str, FieldType]) -> list[bytes]:
        """The same for every row of transform_batch's output columns: one byte string per row."""
        tag = self.entry_tag
        entry_lists = []
        for name, prefix, _ in self.fields:
            entries = []
            try:
                values = wire_column(types[name], columns[name], n)
            except UnencodableValue as e:
                raise _named(e, name) from None
            for value in values:
                entry = prefix + varint(len(value)) + value
                entries.append(tag + varint(len(entry)) + entry)
            entry_lists.append(entries)
        if not entry_lists:
            return [b""] * n
        return list(map(b"".join, zip(*entry_lists)))


def wire_column(ftype: FieldType, col, n: int) -> list[bytes]:
    """Encoded Values of every row of a batch output column, vectors sliced out of one buffer."""
    if isinstance(col, SparseBatch):
        size_part = TAG_VECTOR_SIZE + varint(col.size) if col.size else b""
        data = np.ascontiguousarray(col.values, dtype=_F64).tobytes()
        indptr = col.indptr.tolist()
        indices = col.indices.tolist()
        out = []
        for r in range(n):
            a, b = indptr[r], indptr[r + 1]
            body = size_part
            if b > a:
                packed = b"".join([varint(i) for i in indices[a:b]])
                body += (TAG_VECTOR_INDICES + varint(len(packed)) + packed
                         + TAG_VECTOR_VALUES + varint(8 * (b - a)) + data[8 * a:8 * b])
            out.append(TAG_VECTOR_VALUE + varint(len(body)) + body)
        return out
    if isinstance(col, np.ndarray) and col.ndim == 2 and col.dtype != object:
        d = col.shape[1]
        data = np.ascontiguousarray(col, dtype=_F64).tobytes()
        width = 8 * d
        head = TAG_VECTOR_SIZE + varint(d) + TAG_VECTOR_VALUES + varint(width) if d else b""
        start = TAG_VECTOR_VALUE + varint(len(head) + width) + head
        return [start + data[r * width:(r + 1) * width] for r in range(n)]
    if (isinstance(col, np.ndarray) and col.dtype.kind == "f" and ftype.kind == "scalar"
            and ftype.base == "double"):
        key = TAG_DOUBLE_VALUE
        return [_pack_double(key, x) for x in col.tolist()]
    enc = wire_encoder_for(ftype)
    return [enc(x) for x in column_rows(col, n)]


def string_field(tag: bytes, text: str) -> bytes:
    """A string field (omitted when empty, as proto3 writes it)."""
    if not text:
        return b""
    b = text.encode("utf-8")
    return tag + varint(len(b)) + b


def pass_through(message) -> bytes:
    """Response serializer of the services: bytes already encoded pass unchanged."""
    if type(message) is bytes:
        return message
    return message.SerializeToString()
