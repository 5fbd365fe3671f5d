"""Integers written as strings in model attributes (proto3's JSON form of int64) read the same on
every Python: a sign and ASCII digits within 64 bits; anything else is a BundleError naming the
attribute and what it found (int() and str.isdigit() take Kawi's digits from Python 3.12 on, and
"--5" or "²" raised a bare ValueError). Needs no Spark."""

import pytest

from leapserve.runtime import BundleError
from leapserve.runtime.attributes import Attributes

KAWI_ONE = "\U00011f51"


def attrs(value) -> Attributes:
    return Attributes({"n": {"long": value}, "ns": {"type": "list", "long": [1, value]}}, "root/m.node/model.json")


@pytest.mark.parametrize("text, value", [("7", 7), ("-12", -12), ("9223372036854775807", 9223372036854775807),
                                         ("-9223372036854775808", -9223372036854775808)])
def test_int64_strings(text, value):
    assert attrs(text).long("n") == value
    assert attrs(text).long_list("ns") == [1, value]


@pytest.mark.parametrize("text", [KAWI_ONE, "\u0663", "\u00b2", "--5", "-", "", " 7", "+7", "7.0", "1_0",
                                  "9223372036854775808", "1" * 5000])
def test_other_strings_are_bundle_errors(text):
    for read, found in ((lambda a: a.long("n"), "an integer"), (lambda a: a.long_list("ns"), "integers")):
        with pytest.raises(BundleError) as e:
            read(attrs(text))
        assert f"attribute {'n' if found == 'an integer' else 'ns'!r}: expected {found}, found {text!r}" in str(e.value)
        assert e.value.path == "root/m.node/model.json"
