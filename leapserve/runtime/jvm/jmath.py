"""java.lang.Math, Java's double arithmetic and Spark's loops, as the JVM computes them.

Python raises where the JVM returns a special value: ``math.exp(1000.0)`` raises OverflowError
(Java: Infinity), ``math.log(0.0)`` ValueError (-Infinity), ``1.0 / 0.0`` ZeroDivisionError
(Infinity). Each function here is the named Java function, special values included. The batch
functions (``*_batch``) are their numpy twins over arrays.
"""

from __future__ import annotations

import math
import struct
import sys
from fractions import Fraction
from operator import itemgetter, mul

import numpy as np

MIN_DOUBLE = -sys.float_info.max  # Scala's Double.MinValue (the most negative double)
MAX_DOUBLE = sys.float_info.max  # Scala's Double.MaxValue
ML_EPSILON = 2.220446049250313e-16  # Spark's MLUtils.EPSILON: the smallest e with 1 + e / 2 == 1
LONG_MAX_AS_DOUBLE = 9.223372036854775807e18  # (double) Long.MAX_VALUE == 2^63
TWO_52 = 4503599627370496.0  # from here on every double is an integer


# --- java.lang.Math on doubles ------------------------------------------------------------------

def java_exp(x: float) -> float:
    """Math.exp: overflow gives +Infinity instead of raising."""
    try:
        return math.exp(x)
    except OverflowError:
        return math.inf


def java_log(x: float) -> float:
    """Math.log: log(0) is -Infinity, a negative number or NaN gives NaN."""
    if x > 0.0:
        return math.log(x) if x != math.inf else math.inf
    if x == 0.0:
        return -math.inf
    return math.nan  # negative or NaN


def java_log1p(x: float) -> float:
    """Math.log1p: log1p(-1) is -Infinity, below -1 (or NaN) NaN."""
    if x > -1.0:
        return math.log1p(x)
    return -math.inf if x == -1.0 else math.nan


def java_sqrt(x: float) -> float:
    """Math.sqrt: NaN for a negative number (sqrt(-0.0) is -0.0)."""
    return math.sqrt(x) if x >= 0.0 else (x if x != x else math.nan)


def _finite_only(fn):
    def run(x: float) -> float:
        return fn(x) if math.isfinite(x) else math.nan
    return run


java_sin = _finite_only(math.sin)  # Math.sin: NaN for an infinity (Python raises)
java_cos = _finite_only(math.cos)
java_tan = _finite_only(math.tan)


def java_floor(x: float) -> float:
    """Math.floor: keeps the sign of zero and infinities."""
    if not math.isfinite(x) or x == 0.0:
        return x
    return float(math.floor(x))


def java_ceil(x: float) -> float:
    """Math.ceil: keeps the sign of zero; ceil of a value in (-1, 0) is -0.0."""
    if not math.isfinite(x) or x == 0.0:
        return x
    r = float(math.ceil(x))
    return -0.0 if r == 0.0 else r


def java_round(x: float) -> float:
    """Math.round(double) as a double: floor(x + 1/2) computed exactly, NaN -> 0, clamped."""
    if x != x:
        return 0.0
    if x >= LONG_MAX_AS_DOUBLE:
        return LONG_MAX_AS_DOUBLE
    if x <= -LONG_MAX_AS_DOUBLE:
        return -LONG_MAX_AS_DOUBLE
    if abs(x) >= TWO_52:  # already an integer
        return float(int(x))
    f = math.floor(x)
    return float(f + 1 if x - f >= 0.5 else f)  # x - floor(x) is exact here


def _is_odd_integer(y: float) -> bool:
    return math.isfinite(y) and y == math.floor(y) and abs(y) < 2.0 ** 53 and int(y) % 2 == 1


def java_pow(a: float, b: float) -> float:
    """Math.pow: pow(x, NaN) and pow(+-1, +-Infinity) are NaN; overflow and 0 to a negative
    power give a signed infinity instead of raising."""
    if (a == 1.0 or a == -1.0) and b - b != 0.0:  # C's pow gives 1 for 1^NaN and (+-1)^+-Inf
        return math.nan
    try:  # elsewhere C's pow agrees with Java: x^NaN is NaN, x^0 is 1 (a NaN x too)
        return math.pow(a, b)
    except OverflowError:
        return -math.inf if a < 0.0 and _is_odd_integer(b) else math.inf
    except ValueError:
        if a == 0.0:  # 0 to a negative power
            return -math.inf if math.copysign(1.0, a) < 0.0 and _is_odd_integer(b) else math.inf
        return math.nan  # a negative base to a non-integer power


def java_min(a: float, b: float) -> float:
    """Math.min: NaN wins; -0.0 is below 0.0."""
    if a != a or b != b:
        return math.nan
    if a == 0.0 and b == 0.0:
        return a if math.copysign(1.0, a) < 0.0 else b
    return a if a <= b else b


def java_max(a: float, b: float) -> float:
    """Math.max: NaN wins; 0.0 is above -0.0."""
    if a != a or b != b:
        return math.nan
    if a == 0.0 and b == 0.0:
        return a if math.copysign(1.0, a) > 0.0 else b
    return a if a >= b else b


def java_rem(a: float, b: float) -> float:
    """Java's % on doubles: NaN for x % 0 and Inf % y, x for a finite x and an infinite y."""
    if b == 0.0 or not math.isfinite(a) or b != b:
        return math.nan
    if math.isinf(b):
        return a
    return math.fmod(a, b)


def div_by_zero(x: float, zero: float) -> float:
    """x / +-0.0 as the JVM computes it (Python raises): +-Infinity, or NaN for 0 / 0 and NaN / 0."""
    if x != x or x == 0.0:
        return math.nan
    return math.inf if (x > 0.0) == (math.copysign(1.0, zero) > 0.0) else -math.inf


def java_div(a: float, b: float) -> float:
    """a / b with IEEE division by zero, as the JVM divides doubles."""
    return a / b if b != 0.0 else div_by_zero(a, b)


def fma(a: float, b: float, c: float) -> float:
    """Math.fma: a * b + c rounded once (exact rational arithmetic; Python 3.11 has no fma)."""
    if not (math.isfinite(a) and math.isfinite(b) and math.isfinite(c)):
        return a * b + c
    try:
        return float(Fraction(a) * Fraction(b) + Fraction(c))
    except OverflowError:
        return math.copysign(math.inf, Fraction(a) * Fraction(b) + Fraction(c))


# --- float and long views of a double --------------------------------------------------------

_FLOAT32 = struct.Struct("<f")


def to_float32(v) -> float:
    """Java's (float) of a double, as a Python float: rounded to 32 bits (1e300 becomes
    Infinity; Python's packing raises instead)."""
    try:
        return _FLOAT32.unpack(_FLOAT32.pack(v))[0]
    except OverflowError:
        return math.copysign(math.inf, v)


CANONICAL_NAN_BITS = 0x7FF8000000000000


def double_to_long_bits(x: float) -> int:
    """Java Double.doubleToLongBits (NaN canonicalized to 0x7ff8000000000000), as a signed long."""
    if x != x:
        return CANONICAL_NAN_BITS
    return struct.unpack("<q", struct.pack("<d", x))[0]


def double_to_long_bits_batch(x: np.ndarray) -> np.ndarray:
    """double_to_long_bits of every element (int64)."""
    bits = x.view(np.int64).copy()
    bits[np.isnan(x)] = CANONICAL_NAN_BITS
    return bits


# --- sums in Spark's order ----------------------------------------------------------------------
#
# Spark adds doubles in plain loops, left to right from 0.0 (Scala's Array.sum, its loops over
# vectors). So did Python's sum() until 3.12, which compensates the rounding errors of floats
# (Neumaier): sum([1.0, 1e-16, 1e-16]) is 1.0 in Spark and on 3.11, 1.0000000000000002 on 3.12.
# These give the same answer on every Python: the builtin (fastest) where it adds left to right,
# a loop from 3.12 on, chosen once here. Sums of ints and bools are exact either way (builtin sum).

if sys.version_info < (3, 12):
    def seq_sum(values) -> float:
        """Left-to-right sum from 0.0, as a JVM loop (Scala's Array.sum)."""
        return sum(values, 0.0)

    def seq_dot(x, y) -> float:
        """Sum of x[i] * y[i], left to right from 0.0."""
        return sum(map(mul, x, y), 0.0)

    def seq_sparse_dot(indices, values, y) -> float:
        """Sum of values[k] * y[indices[k]], left to right from 0.0 (a sparse vector's stored
        entries against a dense one, as Spark's sparse loops)."""
        if len(indices) > 1:  # itemgetter gathers at C speed (of one index it returns the entry itself)
            return sum(map(mul, values, itemgetter(*indices)(y)), 0.0)
        return sum([v * y[i] for i, v in zip(indices, values)], 0.0)
else:
    def seq_sum(values) -> float:
        """Left-to-right sum from 0.0, as a JVM loop (Scala's Array.sum)."""
        s = 0.0
        for v in values:
            s += v
        return s

    def seq_dot(x, y) -> float:
        """Sum of x[i] * y[i], left to right from 0.0."""
        s = 0.0
        for a, b in zip(x, y):
            s += a * b
        return s

    def seq_sparse_dot(indices, values, y) -> float:
        """Sum of values[k] * y[indices[k]], left to right from 0.0 (a sparse vector's stored
        entries against a dense one, as Spark's sparse loops)."""
        s = 0.0
        for i, v in zip(indices, values):
            s += v * y[i]
        return s


def seq_sum_arrays(P: np.ndarray) -> np.ndarray:
    """P[0] + P[1] + ... elementwise, left to right, as a Scala loop (numpy's sum may pair terms)."""
    total = np.zeros(P.shape[1:])
    for t in range(P.shape[0]):
        total = total + P[t]
    return total


# --- Spark's dot products ----------------------------------------------------------------------
#
# Spark's dot products add in one of two orders; which one each op here follows, and why:
#
# * Loops: Scala's sums, and the BLAS functions on sparse vectors (Spark's own loops over the
#   stored entries), add left to right from 0.0, as seq_sum, seq_dot, seq_sparse_dot and
#   seq_sum_arrays do; reproduced exactly.
# * Dense BLAS: Spark's BLAS.dot of two dense vectors calls dev.ludovic.netlib's Java BLAS (the
#   executors have no native one), whose ddot keeps four running sums over blocks of four
#   entries, each step a fused multiply-add (Math.fma), combines them as
#   0.0 + (((s0 + s1) + s2) + s3), then adds the remaining (at most three) entries one by one.
#   - The GBT models' weighted sum of their trees' predictions (a ddot) keeps the four lanes,
#     without the fma: ddot_sum_arrays on the batch path, and the same four locals in the code
#     the trees compile for the row path (trees.weighted_sum_code). The lanes cost nothing
#     there; the fma would cost a Fraction product per tree per record (fma above).
#   - The linear models' BLAS.dot of a dense row with their coefficients (model.dot), and the
#     ops' other dense dots, add left to right (seq_dot), without lanes or fma: within 1e-9 of
#     Spark and the same on every Python; following ddot there is left for a later issue.
#   - BucketedRandomProjectionLSH's dense gemv is one fma chain per hash: feature_hash adds left
#     to right and redoes the chain with fma only where the floor of the hash could tell.
#   Without the fma, these sums may differ from Spark's in the last bits.


def ddot_sum_arrays(P: np.ndarray) -> np.ndarray:
    """P[0] + P[1] + ... elementwise in the order of netlib's Java ddot, without its fma: four
    running sums over blocks of four terms (term t into sum t % 4), combined as
    0.0 + (((s0 + s1) + s2) + s3), then the remaining terms added one by one."""
    count = P.shape[0]
    blocks = count - count % 4
    if blocks:
        lanes = [np.zeros(P.shape[1:]) for _ in range(4)]
        for t in range(blocks):
            lanes[t % 4] += P[t]
        total = 0.0 + (((lanes[0] + lanes[1]) + lanes[2]) + lanes[3])
    else:
        total = np.zeros(P.shape[1:])
    for t in range(blocks, count):
        total = total + P[t]
    return total


# --- numpy twins -------------------------------------------------------------------------------

def exp_batch(x: np.ndarray) -> np.ndarray:
    """java_exp of every element, with the row path's libm: numpy's own exp can round the last bit
    otherwise, which 1 - exp(-y) turns into a relative difference of 1e-10 near zero."""
    flat = np.asarray(x, dtype=np.float64)
    return np.fromiter(map(java_exp, flat.ravel().tolist()), np.float64, flat.size).reshape(flat.shape)


def round_batch(x: np.ndarray) -> np.ndarray:
    """java_round of every element."""
    f = np.floor(x)
    with np.errstate(invalid="ignore"):
        out = np.where(x - f >= 0.5, f + 1.0, f)
    out = np.where(np.abs(x) >= TWO_52, x, out)
    out = np.clip(out, -LONG_MAX_AS_DOUBLE, LONG_MAX_AS_DOUBLE)
    return np.where(np.isnan(x), 0.0, out) + 0.0  # a long has no -0


def pow_batch(a, b):
    """java_pow of every pair, with the row path's libm: numpy's power rounds some results a unit in
    the last place away from it and from the JVM (e.g. 14.80997 ** -1.55842)."""
    a, b = np.broadcast_arrays(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64))
    return np.fromiter(map(java_pow, a.ravel().tolist(), b.ravel().tolist()), np.float64, a.size).reshape(a.shape)


def min_batch(a, b):
    """java_min of every pair."""
    out = np.minimum(a, b)  # propagates NaN
    zeros = (a == 0.0) & (b == 0.0)
    return np.where(zeros, np.where(np.signbit(a) | np.signbit(b), -0.0, 0.0), out)


def max_batch(a, b):
    """java_max of every pair."""
    out = np.maximum(a, b)
    zeros = (a == 0.0) & (b == 0.0)
    return np.where(zeros, np.where(np.signbit(a) & np.signbit(b), -0.0, 0.0), out)
