"""Numbers in strings read as Java 17 reads them, on every Python: the expected answers are Java
17.0.15's Double.parseDouble, Long.parseLong and Character.isDigit. Python's float() and int()
differ (digits of any script Python knows, Kawi's and Nag Mundari's only from 3.12; "inf", "1_0",
Unicode whitespace; no "1d" or hexadecimal). Needs no Spark."""

import math

import pytest

from leapserve.runtime.jvm.parse import all_digits, java_trim, parse_double, parse_long

KAWI_ONE, NAG_MUNDARI_ZERO = "\U00011f51", "\U0001e4f0"  # Unicode 15.0 digits, unknown to Java 17
ARABIC_INDIC_THREE, FULLWIDTH_ONE, MATH_BOLD_ONE = "\u0663", "\uff11", "\U0001d7cf"


@pytest.mark.parametrize("text, java", [
    ("3", 3.0), (" 3 ", 3.0), ("3 ", 3.0), ("\x1f3\x00", 3.0), ("-0", -0.0), ("5.", 5.0), (".5", 0.5),
    ("+.5e-3", 5.0e-4), ("1d", 1.0), ("1F", 1.0), ("1e5f", 100000.0), ("0x1p3", 8.0), ("0x1.8P1d", 3.0),
    ("0X.8p0", 0.5), ("Infinity", math.inf), ("-Infinity", -math.inf), ("1e99999999999", math.inf),
    ("0x1p99999999999", math.inf), ("-0x1p99999999999", -math.inf), ("0x1p-99999999999", 0.0),
    ("1.7976931348623159e308", math.inf), ("4.9e-324", 5e-324),
])
def test_parse_double_as_java(text, java):
    got = parse_double(text)
    assert got == java and math.copysign(1.0, got) == math.copysign(1.0, java)


@pytest.mark.parametrize("text", [
    ARABIC_INDIC_THREE, FULLWIDTH_ONE, KAWI_ONE, NAG_MUNDARI_ZERO, "\u00a03", "\u20073", "1_0", "inf", "nan",
    "infinity", "NaNd", "Infinityf", "0x1.8", "0x.p1", "00x1p1", "1e", "1e+", ".", "+", "-", "", " ", "e5",
    "1.2.3", "\u00b2",
])
def test_parse_double_refuses_what_java_refuses(text):
    assert parse_double(text) is None


def test_parse_double_nan():
    assert all(math.isnan(parse_double(t)) for t in ("NaN", "+NaN", "-NaN", " NaN\t"))


@pytest.mark.parametrize("text, java", [
    ("3", 3), ("+3", 3), ("-3", -3), ("007", 7), ("0" * 40 + "12", 12),
    (ARABIC_INDIC_THREE, 3), (FULLWIDTH_ONE + "\u0661", 11), ("4\u09662", 402),  # Character.digit: Unicode 13's digits
    ("9223372036854775807", 9223372036854775807), ("-9223372036854775808", -9223372036854775808),
])
def test_parse_long_as_java(text, java):
    assert parse_long(text) == java


@pytest.mark.parametrize("text", [
    KAWI_ONE, NAG_MUNDARI_ZERO, MATH_BOLD_ONE, "2" + MATH_BOLD_ONE,  # unknown to Java 17; beyond the BMP
    " 3", "3 ", "+", "-", "", "--5", "+-5", "\u00b2", "1_0", "3.0", "1e3",
    "9223372036854775808", "-9223372036854775809", "1" * 30,
])
def test_parse_long_refuses_what_java_refuses(text):
    assert parse_long(text) is None


def test_digits_and_trim_as_java():
    assert all_digits("0123") and all_digits(ARABIC_INDIC_THREE + FULLWIDTH_ONE) and all_digits("")
    assert not any(all_digits(t) for t in (KAWI_ONE, NAG_MUNDARI_ZERO, MATH_BOLD_ONE, "\u00b2", "1a", "1 "))
    assert java_trim("\x00\t x \x1f ") == "x" and java_trim("\u00a0x\u3000") == "\u00a0x\u3000"
