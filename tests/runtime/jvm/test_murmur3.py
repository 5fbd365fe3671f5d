"""MurmurHash3 x86_32 as Spark computes it: standard (hashUnsafeBytes2) and legacy (hashUnsafeBytes);
checked against published vectors, values read off Spark's source, and Spark's own class in the
JVM."""

import random

import pytest

from leapserve.runtime.jvm.jmath import double_to_long_bits
from leapserve.runtime.jvm.murmur3 import hash_string, hash_unsafe_bytes, hash_unsafe_bytes2, nonnegative_mod


def signed(x: int) -> int:
    return x - (1 << 32) if x & 0x80000000 else x


# Published MurmurHash3_x86_32 test vectors (as unsigned hex): the standard algorithm.
STANDARD = [
    (b"", 0, 0x00000000), (b"", 1, 0x514E28B7), (b"", 0xFFFFFFFF, 0x81F16F39),
    (b"\x00\x00\x00\x00", 0, 0x2362F9DE), (b"\xff\xff\xff\xff", 0, 0x76293B50),
    (b"\x21\x43\x65\x87", 0, 0xF55B516B), (b"\x21\x43\x65", 0, 0x7E4A8634), (b"\x21\x43", 0, 0xA0F7B07A),
    (b"\x21", 0, 0x72661CF4), (b"aaaa", 0x9747B28C, 0x5A97808A), (b"aaa", 0x9747B28C, 0x283E0130),
    (b"aa", 0x9747B28C, 0x5D211726), (b"a", 0x9747B28C, 0x7FA09EA6), (b"abcd", 0x9747B28C, 0xF0478627),
    (b"abc", 0x9747B28C, 0xC84A62DD), (b"Hello, world!", 0x9747B28C, 0x24884CBA),
    (b"The quick brown fox jumps over the lazy dog", 0x9747B28C, 0x2FA826CD),
]


@pytest.mark.parametrize("data,seed,expected", STANDARD)
def test_standard_vectors(data, seed, expected):
    assert hash_unsafe_bytes2(data, signed(seed)) == signed(expected)


# Seed 42 (HashingTF's), values of Spark 3.5's Murmur3_x86_32 for UTF-8 strings: (text, v1, v2).
SPARK_SEED_42 = [
    ("", 142593372, 142593372), ("a", 1485273170, -1293573533), ("ab", -97053317, -684913081),
    ("abc", 1322437556, 1313807976), ("abcd", -396302900, -396302900), ("hello", -1008564952, -488910111),
    ("\u00ff", 1533202516, 167747599), ("\u00e9", 2119106806, 1023967903),
    ("\u65e5\u672c\u8a9e", -1143049834, -976822600), ("\u00ff\u00fe", 1468979952, 1468979952),
    ("\u03a3", -209627710, 1336863356),
]


@pytest.mark.parametrize("text,v1,v2", SPARK_SEED_42)
def test_spark_values(text, v1, v2):
    assert hash_string(text, 42, version=1) == v1
    assert hash_string(text, 42, version=2) == v2


def test_legacy_variant_from_spark_source():
    # hashUnsafeBytes mixes each trailing byte as its own block, sign-extended (Java byte -> int),
    # with a full mixH1 step; hashUnsafeBytes2 packs the tail into one block, mixed without it.
    # With no tail the two agree; with one they differ.
    for data in (b"", b"abcd", b"abcdefgh", b"\x80\x81\x82\x83"):
        assert hash_unsafe_bytes(data, 42) == hash_unsafe_bytes2(data, 42)
    for data in (b"a", b"abcde", b"\xff", b"abcd\x80\x01"):
        assert hash_unsafe_bytes(data, 42) != hash_unsafe_bytes2(data, 42)


def test_bits_and_buckets():
    assert double_to_long_bits(1.0) == 0x3FF0000000000000 and double_to_long_bits(float("nan")) == 0x7FF8000000000000
    assert nonnegative_mod(-7, 5) == 3 and nonnegative_mod(7, 5) == 2 and nonnegative_mod(-10, 5) == 0


def test_against_spark_jvm(spark):
    jvm = spark._jvm
    murmur = jvm.org.apache.spark.unsafe.hash.Murmur3_x86_32
    offset = jvm.org.apache.spark.unsafe.Platform.BYTE_ARRAY_OFFSET
    rng = random.Random(7)
    for _ in range(300):
        data = bytes(rng.randrange(256) for _ in range(rng.randint(0, 13)))
        seed = rng.choice([42, 0, -1, 123456789, -(1 << 31)])
        assert hash_unsafe_bytes(data, seed) == murmur.hashUnsafeBytes(bytearray(data), offset, len(data), seed)
        assert hash_unsafe_bytes2(data, seed) == murmur.hashUnsafeBytes2(bytearray(data), offset, len(data), seed)
    for x in (0.0, -0.0, 1.5, -3.25e10, float("inf"), 5e-324):
        assert double_to_long_bits(x) == jvm.java.lang.Double.doubleToLongBits(x)


def test_hashing_tf_index_matches_spark(spark):
    from pyspark.ml.feature import HashingTF

    from leapserve.runtime.ops.feature_text_vectors import term_index

    tf = HashingTF(numFeatures=1 << 18)
    for term in ["", "a", "spark", "Straße", "\u03c3\u03bf\u03c6\u03af\u03b1", "\u65e5\u672c", "\U0001F600x", "a b"]:
        assert term_index(term, 1 << 18, 2) == tf.indexOf(term)
    small = HashingTF(numFeatures=7)
    for term in ["x", "yy", "zzz", "wwww"]:
        assert term_index(term, 7, 2) == small.indexOf(term)
