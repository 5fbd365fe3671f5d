"""Field types of a pipeline's inputs and outputs, and the casting of incoming values to them.

Casting follows MLeap's rules (mleap-core Casting): numbers convert between numeric types, strings
parse to numbers as the JVM parses them (jvm.parse: Double.parseDouble, Long.parseLong), numbers
format to strings the way the JVM prints them (1 -> "1", 1.0 -> "1.0", 1e10 -> "1.0E10"), lists
and arrays become vectors. Anything else is an InvalidInput naming the field, the expected type and
what came.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .errors import InvalidInput, describe
from .jvm.format import java_double_str, java_float_str
from .jvm.parse import all_digits, java_trim, parse_double, parse_long
from .vectors import SparseVector

INTEGRAL_BASES = ("byte", "short", "int", "long")
NUMERIC_BASES = (*INTEGRAL_BASES, "float", "double")
_INT_RANGES = {"byte": 8, "short": 16, "int": 32, "long": 64}


@dataclass(frozen=True)
class FieldType:
    """What a field holds: a scalar, a list, or a tensor (a 1-D double tensor is a vector)."""

    kind: str  # "scalar" | "list" | "tensor"
    base: str  # "double", "string", "int", "long", "float", "boolean", "byte_string", ...
    size: int | None = None  # vector length, when known
    nullable: bool = True

    def __str__(self) -> str:
        if self.kind == "scalar":
            return self.base
        if self.kind == "list":
            return f"list<{self.base}>"
        if self.base == "double":
            return f"vector[{self.size}]" if self.size is not None else "vector"
        return f"tensor<{self.base}>" + (f"[{self.size}]" if self.size is not None else "")

    @property
    def is_vector(self) -> bool:
        return self.kind == "tensor" and self.base == "double"

    def with_size(self, size: int | None) -> "FieldType":
        return FieldType(self.kind, self.base, size, self.nullable)

    def to_json(self) -> dict:
        out = {"kind": self.kind, "base": self.base, "nullable": self.nullable}
        if self.size is not None:
            out["size"] = self.size
        return out


DOUBLE = FieldType("scalar", "double")
FLOAT = FieldType("scalar", "float")
INT = FieldType("scalar", "int")
LONG = FieldType("scalar", "long")
BOOLEAN = FieldType("scalar", "boolean")
STRING = FieldType("scalar", "string")
STRING_LIST = FieldType("list", "string")
DOUBLE_LIST = FieldType("list", "double")


def vector(size: int | None = None) -> FieldType:
    return FieldType("tensor", "double", size)


def scalar(base: str) -> FieldType:
    return FieldType("scalar", base)


def list_of(base: str) -> FieldType:
    return FieldType("list", base)


# --- casting -------------------------------------------------------------------------------

def _is_number(v) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))


def _parse_number(field: str, text: str, expected: str):
    """A number from a string, as MLeap's casts read it on the JVM: Double.parseDouble for double
    and float; for the integer types Long.parseLong (which also takes the decimal digits of other
    scripts, e.g. Arabic-Indic) and then the range of the type, where leapserve also takes a
    parseDouble with an integral value ("3.0", "1e3"). Whitespace is trimmed as String.trim does.
    Anything else (Java's NumberFormatException) is an InvalidInput."""
    if expected in ("double", "float"):
        value = parse_double(text)  # trims
    else:
        t = java_trim(text)
        value = parse_long(t)
        if value is None:
            f = parse_double(t)
            value = int(f) if f is not None and f.is_integer() else None
    if value is None:
        raise InvalidInput(field, expected, f"string {text!r}")
    return value


def to_double(field: str, v, nullable: bool = True):
    if isinstance(v, float):
        return v
    if v is None:
        if nullable:
            return None
        raise InvalidInput(field, "double", "null")
    if _is_number(v):
        return float(v)
    if isinstance(v, (bool, np.bool_)):
        return 1.0 if v else 0.0
    if isinstance(v, str):
        if v == "" or v == "null":
            if nullable:
                return None
            raise InvalidInput(field, "double", f"string {v!r}")
        return float(_parse_number(field, v, "double"))
    raise InvalidInput(field, "double", describe(v))


def to_integer(field: str, v, base: str = "long", nullable: bool = True):
    if v is None:
        if nullable:
            return None
        raise InvalidInput(field, base, "null")
    if isinstance(v, (bool, np.bool_)):
        return 1 if v else 0
    if isinstance(v, (int, np.integer)):
        out = int(v)
    elif isinstance(v, (float, np.floating)):
        if math.isnan(v) or math.isinf(v):
            raise InvalidInput(field, base, describe(v))
        out = int(v)  # JVM narrowing truncates toward zero
    elif isinstance(v, str):
        if v == "" or v == "null":
            if nullable:
                return None
            raise InvalidInput(field, base, f"string {v!r}")
        out = _parse_number(field, v, base)
    else:
        raise InvalidInput(field, base, describe(v))
    bits = _INT_RANGES.get(base, 64)
    if not -(1 << (bits - 1)) <= out < (1 << (bits - 1)):
        raise InvalidInput(field, f"{base} (a {bits}-bit integer)", describe(v))
    return out


def to_boolean(field: str, v, nullable: bool = True):
    """MLeap's string rule: "true" and "yes" are true, "false", "no" and "" false (here in any
    case), a string of digits (Scala's forall(isDigit): Character.isDigit of each UTF-16 unit) is
    its Double.parseDouble != 0, which throws on digits other than ASCII (an InvalidInput here),
    and anything else is true."""
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if v is None:
        if nullable:
            return None
        raise InvalidInput(field, "boolean", "null")
    if _is_number(v):
        return v != 0
    if isinstance(v, str):
        low = v.lower()
        if low in ("true", "yes"):
            return True
        if low in ("false", "no", ""):
            return False
        if all_digits(v):  # MLeap: digits.toDouble != 0, which throws on digits beyond ASCII
            if not v.isascii():
                raise InvalidInput(field, "boolean", f"string {v!r} (digits other than 0-9)")
            return v.strip("0") != ""
        return True
    raise InvalidInput(field, "boolean", describe(v))


def to_string(field: str, v, nullable: bool = True):
    if isinstance(v, str):
        return v
    if v is None:
        if nullable:
            return None
        raise InvalidInput(field, "string", "null")
    if isinstance(v, (bool, np.bool_)):
        return "true" if v else "false"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, np.float32):
        return java_float_str(float(v))
    if isinstance(v, (float, np.floating)):
        return java_double_str(float(v))
    raise InvalidInput(field, "string", describe(v))


def to_vector(field: str, v, size: int | None = None, nullable: bool = True):
    """A vector value for the row path: a list of floats (dense) or a SparseVector."""
    if isinstance(v, SparseVector):
        out = v
        n = v.size
    elif isinstance(v, np.ndarray):
        if v.ndim != 1 or v.dtype.kind not in "fiub":
            raise InvalidInput(field, _vec_name(size), f"array of shape {list(v.shape)} and dtype {v.dtype}")
        out = v.astype(np.float64, copy=False).tolist()
        n = len(out)
    elif isinstance(v, (list, tuple)):
        try:
            if set(map(type, v)) <= _FLOAT_ONLY:  # the common case, checked at C speed
                out = list(v)
            else:
                out = [float(x) if _is_number(x) else _bad_element(x) for x in v]
        except TypeError:
            raise InvalidInput(field, _vec_name(size), "a list holding non-numbers") from None
        n = len(out)
    elif v is None:
        if nullable:
            return None
        raise InvalidInput(field, _vec_name(size), "null")
    elif isinstance(v, dict) and "values" in v:
        out = _vector_from_mapping(field, v, size)
        n = out.size if isinstance(out, SparseVector) else len(out)
    else:
        raise InvalidInput(field, _vec_name(size), describe(v))
    if size is not None and n != size:
        raise InvalidInput(field, f"vector of size {size}", f"vector of size {n}")
    return out


_FLOAT_ONLY = frozenset({float})


def _bad_element(x):
    raise TypeError(x)


def _vec_name(size) -> str:
    return f"vector of size {size}" if size is not None else "vector"


def _vector_from_mapping(field: str, v: dict, size):
    values = v.get("values")
    indices = v.get("indices")
    if indices is None:
        return to_vector(field, list(values), size)
    n = v.get("size")
    if not isinstance(n, int) or n < 0:
        raise InvalidInput(field, "sparse vector with a non-negative 'size'", describe(n))
    return SparseVector.checked(n, indices, values, field)


def to_string_list(field: str, v, nullable: bool = True):
    if v is None:
        if nullable:
            return None
        raise InvalidInput(field, "list<string>", "null")
    if isinstance(v, str) or not isinstance(v, (list, tuple, np.ndarray)):
        raise InvalidInput(field, "list<string>", describe(v))
    return [x if isinstance(x, str) else to_string(field, x, nullable=True) for x in v]


def caster(ftype: FieldType, field: str):
    """The function that turns an incoming value into the internal row value of this type."""
    nullable = ftype.nullable
    if ftype.kind == "scalar":
        if ftype.base in ("double", "float"):
            return lambda v: to_double(field, v, nullable)
        if ftype.base in _INT_RANGES:
            base = ftype.base
            return lambda v: to_integer(field, v, base, nullable)
        if ftype.base == "boolean":
            return lambda v: to_boolean(field, v, nullable)
        if ftype.base == "string":
            return lambda v: to_string(field, v, nullable)
    if ftype.kind == "tensor" and ftype.base == "double":
        size = ftype.size
        return lambda v: to_vector(field, v, size, nullable)
    if ftype.kind == "list" and ftype.base == "string":
        return lambda v: to_string_list(field, v, nullable)
    if ftype.kind == "list" and ftype.base in NUMERIC_BASES:
        def cast_list(v):
            if v is None and nullable:
                return None
            if isinstance(v, (str, bytes)) or not isinstance(v, (list, tuple, np.ndarray)):
                raise InvalidInput(field, str(ftype), describe(v))
            return [to_double(field, x, False) for x in v]
        return cast_list
    return lambda v: v
