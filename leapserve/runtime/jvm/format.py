"""Java's Double.toString and Float.toString: how the JVM prints numbers (1.0, 1.0E10, 1.0E-4).

Digits are the shortest that round-trip, as JDK 19 and later print them. Spark runs on Java 17,
whose digits sometimes differ (not reproduced yet): 1e23 prints as "9.999999999999999E22" (here
"1.0E23"), the float 123456789f as "1.23456792E8" (here "1.2345679E8"); and every JDK prints
5e-324 as "4.9E-324" (here "5.0E-324").
"""

from __future__ import annotations

import math
from decimal import Decimal

import numpy as np


def java_double_str(x: float) -> str:
    """Double.toString: plain notation for 1e-3 <= |x| < 1e7, else computerized scientific."""
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    if x == 0.0:
        return "-0.0" if math.copysign(1.0, x) < 0 else "0.0"
    return _java_format(repr(float(x)), abs(x))


def java_float_str(x: float) -> str:
    """Float.toString of a 32-bit float."""
    f = np.float32(x)
    if np.isnan(f):
        return "NaN"
    if np.isinf(f):
        return "Infinity" if f > 0 else "-Infinity"
    if f == 0:
        return "-0.0" if np.signbit(f) else "0.0"
    return _java_format(np.format_float_positional(f, unique=True), abs(float(f)))


def _java_format(shortest: str, magnitude: float) -> str:
    """Format the shortest round-trip digits of a number the way the JVM prints doubles."""
    sign, digit_tuple, exp = Decimal(shortest).as_tuple()
    digits = "".join(map(str, digit_tuple))
    point = len(digits) + exp  # digits before the decimal point in plain notation
    stripped = digits.lstrip("0")
    point -= len(digits) - len(stripped)
    digits = stripped.rstrip("0") or "0"
    minus = "-" if sign else ""
    if 1e-3 <= magnitude < 1e7:
        if point <= 0:
            return f"{minus}0.{'0' * -point}{digits}"
        if point >= len(digits):
            return f"{minus}{digits}{'0' * (point - len(digits))}.0"
        return f"{minus}{digits[:point]}.{digits[point:]}"
    return f"{minus}{digits[0]}.{digits[1:] or '0'}E{point - 1}"
