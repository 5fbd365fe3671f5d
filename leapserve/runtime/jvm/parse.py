"""Numbers in strings read as Java 17 reads them, the same on every Python: Double.parseDouble,
Long.parseLong, String.trim and Character.isDigit.

Python's float() and int() answer by their own rules, some of them Python's Unicode version's:
they take digits of every script Python knows (Kawi and Nag Mundari only from 3.12, which Java 17
does not know), underscores ("1_000"), "inf" and "nan" in any case, and Unicode whitespace around
the number; float() refuses Java's "1d" and "0x1p3". Here:

* ``parse_double(text)`` is Double.parseDouble: String.trim, then an optional sign and ``NaN``,
  ``Infinity``, a decimal number in ASCII digits with an optional exponent ("1", "1.", ".5",
  "1e-3") or a hexadecimal one with its binary exponent ("0x1.8p1"), the numbers with an
  optional f/F/d/D suffix; correctly rounded (overflow gives an infinity). None where Java throws
  NumberFormatException.
* ``parse_long(text)`` is Long.parseLong: an optional sign and decimal digits, no whitespace,
  within 64 bits. Its digits are Character.digit's of each UTF-16 unit: every decimal digit of
  Unicode 13 in the BMP (ASCII, Arabic-Indic, Devanagari, fullwidth, ...), not only ASCII; none
  beyond the BMP (their surrogates are not digits). None where Java throws.
* ``java_trim(text)``: String.trim drops every character up to U+0020 at both ends (control
  characters included, Unicode spaces not).
* ``all_digits(text)``: Scala's ``text.forall(_.isDigit)``, Character.isDigit of each UTF-16
  unit: a supplementary character is never a digit, its surrogates are not.
"""

from __future__ import annotations

import math
import re
from functools import lru_cache

_TRIMMED = "".join(map(chr, range(0x21)))
_PLAIN = "0123456789.+-eE"
_DECIMAL = re.compile(r"([+-]?)(?:(NaN)|(Infinity)|((?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)[fFdD]?)")
_HEXADECIMAL = re.compile(r"([+-]?0[xX](?:[0-9a-fA-F]+\.?|[0-9a-fA-F]*\.[0-9a-fA-F]+)[pP][+-]?[0-9]+)[fFdD]?")
_LONG_MIN, _LONG_MAX = -(1 << 63), (1 << 63) - 1


@lru_cache(maxsize=None)
def _java_digits() -> tuple[dict, frozenset]:
    """Java 17's decimal digits in UTF-16 units: a str.translate table taking those beyond ASCII to
    their ASCII digit, and the set of them all. Built on first use from character_data, which is
    imported only then: only text beyond ASCII needs it."""
    from .character_data import DIGIT_ZEROS

    to_ascii = {zero + k: 0x30 + k for zero in DIGIT_ZEROS if zero != 0x30 and zero + 9 <= 0xFFFF for k in range(10)}
    return to_ascii, frozenset("0123456789") | frozenset(map(chr, to_ascii))


def java_trim(text: str) -> str:
    """String.trim: the characters up to U+0020 dropped from both ends."""
    return text.strip(_TRIMMED)


def parse_double(text: str) -> float | None:
    """Double.parseDouble(text), or None where Java throws NumberFormatException."""
    t = text.strip(_TRIMMED)
    if not t.strip(_PLAIN):  # on these characters alone float() reads what Java reads (and refuses "")
        try:
            return float(t)
        except ValueError:
            return None
    m = _DECIMAL.fullmatch(t)
    if m is not None:
        sign, nan, infinity, number = m.groups()
        if nan:
            return math.nan
        if infinity:
            return -math.inf if sign == "-" else math.inf
        return float(sign + number)
    m = _HEXADECIMAL.fullmatch(t)
    if m is not None:
        try:
            return float.fromhex(m.group(1))
        except OverflowError:  # Java rounds an exponent past Double.MAX_VALUE to infinity
            return -math.inf if t[0] == "-" else math.inf
    return None


def parse_long(text: str) -> int | None:
    """Long.parseLong(text), or None where Java throws NumberFormatException."""
    if len(text) < 19 and text.isdigit() and text.isascii():  # the common case, within 64 bits
        return int(text)
    digits = text[1:] if text[:1] in ("+", "-") else text
    if not digits.isascii():
        digits = digits.translate(_java_digits()[0])
    if not (digits.isascii() and digits.isdigit()):  # ASCII isdigit: 0-9 only; also refuses ""
        return None
    digits = digits.lstrip("0")
    if len(digits) > 19:  # past 64 bits (and int()'s limit on long strings of digits)
        return None
    value = -int(digits or "0") if text[0] == "-" else int(digits or "0")
    return value if _LONG_MIN <= value <= _LONG_MAX else None


def all_digits(text: str) -> bool:
    """Scala's ``text.forall(_.isDigit)``: every UTF-16 unit a digit to Character.isDigit (true for "")."""
    if text.isascii():
        return text.isdigit() or not text
    digits = _java_digits()[1]
    return all(ch in digits for ch in text)
