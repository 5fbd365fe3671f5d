"""32-bit MurmurHash3 (x86_32) exactly as Spark's ``org.apache.spark.unsafe.hash.Murmur3_x86_32``.

Results are Java ints (signed 32-bit). Bytes are read four at a time as little-endian words (what
Spark's ``Platform.getInt`` reads on x86 and ARM machines).

* ``hash_unsafe_bytes2``: the standard MurmurHash3 (Spark >= 2.3 ``hashUnsafeBytes2``): the 1-3
  trailing bytes are packed into one little-endian block, mixed once.
* ``hash_unsafe_bytes``: Spark's legacy variant (``hashUnsafeBytes``, HashingTF before Spark 3):
  each trailing byte is sign-extended (Java ``byte`` -> ``int``) and mixed as a block of its own,
  with the full ``mixH1`` step.

``nonnegative_mod`` is Spark's ``Utils.nonNegativeMod``: the bucket of a signed hash.
"""

from __future__ import annotations

import struct

_MASK = 0xFFFFFFFF
_C1 = 0xCC9E2D51
_C2 = 0x1B873593
_N = 0xE6546B64
_F1 = 0x85EBCA6B
_F2 = 0xC2B2AE35

_UNPACK: dict = {}  # block count -> struct unpacker of that many little-endian words


def _blocks(data: bytes, count: int) -> tuple:
    """The first ``count`` little-endian 32-bit words of data, unsigned."""
    unpack = _UNPACK.get(count)
    if unpack is None:
        unpack = struct.Struct(f"<{count}I").unpack_from
        if count <= 256:  # long inputs are rare: keep the table small
            _UNPACK[count] = unpack
    return unpack(data)


# The two byte hashes are written out in full (no helper calls): they are the hot path of
# HashingTF, and in CPython every call costs as much as several of these integer operations.

def hash_unsafe_bytes2(data: bytes, seed: int = 42) -> int:
    """Standard MurmurHash3 x86_32 of data (Spark's hashUnsafeBytes2), as a signed int."""
    n = len(data)
    h = seed & _MASK
    if n >= 4:
        for k in _blocks(data, n >> 2):  # hashBytesByInt
            k = (k * _C1) & _MASK
            k = ((k << 15) | (k >> 17)) & _MASK
            h ^= (k * _C2) & _MASK
            h = ((h << 13) | (h >> 19)) & _MASK
            h = (h * 5 + _N) & _MASK
    tail = n & 3
    if tail:  # the 1-3 remaining bytes as one little-endian block, mixed into h without mixH1
        k = int.from_bytes(data[n - tail:], "little")
        k = (k * _C1) & _MASK
        k = ((k << 15) | (k >> 17)) & _MASK
        h ^= (k * _C2) & _MASK
    h ^= n  # fmix
    h ^= h >> 16
    h = (h * _F1) & _MASK
    h ^= h >> 13
    h = (h * _F2) & _MASK
    h ^= h >> 16
    return h - 0x100000000 if h & 0x80000000 else h


def hash_unsafe_bytes(data: bytes, seed: int = 42) -> int:
    """Spark's legacy hashUnsafeBytes (not standard MurmurHash3), as a signed int."""
    n = len(data)
    aligned = n & ~3
    h = seed & _MASK
    if aligned:
        for k in _blocks(data, aligned >> 2):
            k = (k * _C1) & _MASK
            k = ((k << 15) | (k >> 17)) & _MASK
            h ^= (k * _C2) & _MASK
            h = ((h << 13) | (h >> 19)) & _MASK
            h = (h * 5 + _N) & _MASK
    for i in range(aligned, n):  # each remaining byte is a block: Java's byte, sign-extended
        b = data[i]
        k = (b - 256 if b > 127 else b) & _MASK
        k = (k * _C1) & _MASK
        k = ((k << 15) | (k >> 17)) & _MASK
        h ^= (k * _C2) & _MASK
        h = ((h << 13) | (h >> 19)) & _MASK
        h = (h * 5 + _N) & _MASK
    h ^= n
    h ^= h >> 16
    h = (h * _F1) & _MASK
    h ^= h >> 13
    h = (h * _F2) & _MASK
    h ^= h >> 16
    return h - 0x100000000 if h & 0x80000000 else h


def hash_string(text: str, seed: int = 42, version: int = 2) -> int:
    """The hash of a string's UTF-8 bytes: version 2 = hashUnsafeBytes2, 1 = legacy hashUnsafeBytes.

    A lone surrogate encodes as "?", as Java's UTF-8 encoder does."""
    data = text.encode("utf-8", "replace")
    return hash_unsafe_bytes2(data, seed) if version != 1 else hash_unsafe_bytes(data, seed)


def nonnegative_mod(x: int, mod: int) -> int:
    """Spark's Utils.nonNegativeMod: Java's remainder (sign of x) shifted into [0, mod)."""
    return x % mod  # Python's remainder already has the sign of mod
