"""The Java-regex translation reads the pattern's numbers as java.util.regex.Pattern does, on every
Python: repetition counts and back-reference digits are ASCII digits only (Python's \\d and
str.isdigit take other scripts' digits, Kawi's from 3.12 on). The expected outcomes are Java
17.0.15's. Needs no Spark."""

import re

import pytest

from leapserve.runtime.jvm.regex import UnsupportedRegex, cannot_backtrack, translate_java_regex

ELEVEN_GROUPS = "(a)(b)(c)(d)(e)(f)(g)(h)(i)(j)(k)"


@pytest.mark.parametrize("pattern", ["a{\u0661}", "a{\U00011f51}", "a{1,\u0662}", "a{\u0661,2}"])
def test_counts_in_other_digits_are_refused(pattern):
    """Java: "Illegal repetition" / "Unclosed counted closure" (Python's re would read a{١} as a literal)."""
    with pytest.raises(UnsupportedRegex, match="repetition"):
        translate_java_regex(pattern)


@pytest.mark.parametrize("digit", ["\u0661", "\U00011f51"])
def test_back_reference_stops_at_other_digits(digit):
    """Java reads \\1 and then the digit as a literal: (a)...(k)\\1١ matches abcdefghijka١."""
    compiled = re.compile(translate_java_regex(ELEVEN_GROUPS + "\\1" + digit))
    assert compiled.fullmatch("abcdefghijka" + digit)
    assert not compiled.fullmatch("abcdefghijkk")


def test_ascii_counts_and_back_references():
    assert re.compile(translate_java_regex("a{2}")).fullmatch("aa")
    assert re.compile(translate_java_regex(ELEVEN_GROUPS + "\\11")).fullmatch("abcdefghijkk")
    assert re.compile(translate_java_regex("\\D\\S\\W")).fullmatch("a!b") is None
    assert re.compile(translate_java_regex("\\D\\S\\W")).fullmatch("a!!")


@pytest.mark.parametrize("pattern, expected", [
    (r"\s+", True), (r"\W+", True), (r"[,;]", True), (r",\s*", True), (r"\.|,", True), (r"(?i)ab", True),
    ("", True), (r"x*?", True),
    (r"\s*,", False), (r"(a|aa)+b", False), (r"(a)\1", False), (r"\d+(?:\.\d+)?", False), (r"(?m)^\w", False),
    (r"(?:ab)+", False), (r"a{1000}", False), (r"\s{2,}", False), (r"x" * 65, False), (r"a{0,1000}", True),
    (r"x" * 64, True),
])
def test_which_patterns_run_without_a_budget(pattern, expected):
    """Only up to 64 single characters in a row, the last of which may repeat from 0 or 1 times,
    skip the time budget: they cannot backtrack, whatever the text (a{1000} scans up to a thousand
    characters at each position: quadratic; tests/reliability/test_bundle_regex.py times it)."""
    assert cannot_backtrack(translate_java_regex(pattern)) is expected
