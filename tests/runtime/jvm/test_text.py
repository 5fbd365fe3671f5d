"""Java 17's String.toLowerCase on every Python: the final sigma's word breaks and cased test use
Java 17's character categories (Unicode 13), not Python's Unicode database (14.0 on 3.11, 15.0 on
3.12, 15.1 on 3.13), and characters Java 17 does not know stay as they are. The expected strings
are Java 17.0.15's answers. Needs no Spark: runs under every Python the runtime supports."""

import subprocess
import sys
from pathlib import Path

import pytest

from leapserve.runtime.jvm.character_data import LOWERCASE
from leapserve.runtime.jvm.text import java_category, java_lower, python_lowers_otherwise

SIGMA = "\u03a3"
REPO = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize("text, java", [
    # Unicode 15.0 and 15.1 letters and marks (Kannada, Kawi, combining Cyrillic, CJK extensions H
    # and I, Nag Mundari's neighbour block), Unicode 14's Arabic and Tagalog: unassigned in Java 17,
    # so they neither precede a sigma as cased-word material nor join its word.
    ("A\u0cf3\u03a3", "a\u0cf3\u03c3"),
    ("A\u03a3\U0001df25", "a\u03c2\U0001df25"),
    ("A\U00011f04\u0301\u03a3", "a\U00011f04\u0301\u03c3"),
    ("A\U0002ebf0\u0301\u03a3", "a\U0002ebf0\u0301\u03c3"),
    ("\U0001e059\u0345\u03a3\U00031870", "\U0001e059\u0345\u03c3\U00031870"),
    ("A\u03a3\U00031843\u0301\u03a3\U000317f5", "a\u03c2\U00031843\u0301\u03c3\U000317f5"),
    ("A\u0889\u03a3", "a\u0889\u03c3"),
    ("\U0001fae8\u03a3A", "\U0001fae8\u03c3a"),
    # Java 17 calls U+1734 a non-spacing mark (Python a spacing one); Unicode 14 letters stay as they are.
    ("x\u1734\u03a3", "x\u1734\u03c2"),
    ("\u2c2f\u03a3 \ua7c0\u03a3", "\u2c2f\u03c3 \ua7c0\u03c3"),
])
def test_final_sigma_next_to_characters_java_17_does_not_know(text, java):
    assert java_lower(text) == java


def test_categories_are_java_17s():
    assert [java_category(cp) for cp in (0x41, 0x61, 0x663, 0x1734, 0xD800, 0xE000, 0x10FFFF)] == \
        ["Lu", "Ll", "Nd", "Mn", "Cs", "Co", "Cn"]
    later = (0x061D, 0x0CF3, 0x11F04, 0x11F50, 0x1DF25, 0x1E4F0, 0x2EBF0, 0x31350)  # Unicode 14 to 15.1
    assert {java_category(cp) for cp in later} == {"Cn"}


def test_every_code_point_lowers_as_in_java_17():
    """java_lower of each code point alone is Java's (String.toLowerCase(Locale.ROOT), from the
    table tools/character_data takes from Java 17): this Python's own mappings where they agree,
    and the characters Java does not know unchanged."""
    singles = [chr(cp) for cp in range(0x110000) if not 0xD800 <= cp <= 0xDFFF and chr(cp) != SIGMA]
    for i in range(0, len(singles), 512):
        chunk = singles[i:i + 512]  # no sigma: no context rule applies between them
        assert java_lower("".join(chunk)) == "".join(LOWERCASE.get(ord(ch), ch) for ch in chunk), \
            f"U+{ord(chunk[0]):04X}..U+{ord(chunk[-1]):04X}"
    assert java_lower(SIGMA) == "\u03c3"
    for ch in python_lowers_otherwise():
        assert ch != ch.lower() and java_lower(ch) == ch and java_lower("x" + ch + "y") == "x" + ch + "y"


def test_java_tables_load_on_first_use():
    """character_data (Java's tables, 70 KB) is imported only when text beyond ASCII needs it: not
    by importing the runtime, loading and scoring a bundle with ASCII text, or lowercasing it."""
    code = """if True:
        import sys
        from leapserve.runtime import load_bundle, supported_ops
        from leapserve.runtime.jvm.parse import all_digits, parse_long
        from leapserve.runtime.jvm.text import java_lower
        from tests.support.bundles import RF_ZIP, airbnb_record
        supported_ops()
        load_bundle(RF_ZIP).transform(airbnb_record())
        assert java_lower("ABC") == "abc" and parse_long("42") == 42 and all_digits("42")
        loaded = "leapserve.runtime.jvm.character_data" in sys.modules
        assert parse_long("\\u0663") == 3
        print(loaded, "leapserve.runtime.jvm.character_data" in sys.modules)
    """
    run = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["False", "True"]
