"""Input values cast as MLeap casts them, the same on every Python: strings parse to numbers as the
JVM parses them (jvm.parse), on the row path, on the batch path and between stages; bad strings are
an InvalidInput naming the field, what it expects and what came. Needs no Spark."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tests.support.handmade import node, write_bundle
from leapserve.runtime import InvalidInput, load_bundle
from leapserve.runtime.types import to_boolean, to_double, to_integer

KAWI_ONE = "\U00011f51"  # a Unicode 15.0 digit: float() and int() take it from Python 3.12 on
ARABIC_INDIC_THREE = "\u0663"


@pytest.mark.parametrize("text", [KAWI_ONE, ARABIC_INDIC_THREE, "inf", "1_000", "\u00a01", "\u00b2"])
def test_double_strings_java_refuses(text):
    with pytest.raises(InvalidInput) as e:
        to_double("x", text)
    assert (e.value.field, e.value.expected, e.value.actual) == ("x", "double", f"string {text!r}")


def test_double_strings_as_java_reads_them():
    assert [to_double("x", t) for t in (" 2.5 ", "1d", "0x1p3", "Infinity", "-0")] == [2.5, 1.0, 8.0, math.inf, -0.0]
    assert math.copysign(1.0, to_double("x", "-0")) == -1.0 and math.isnan(to_double("x", "NaN"))
    assert to_double("x", "") is None and to_double("x", "null") is None


@pytest.mark.parametrize("text", [KAWI_ONE, "\u00b2", "--5", "1_000", "2.5", "9223372036854775808", "inf"])
def test_integer_strings_java_refuses(text):
    with pytest.raises(InvalidInput) as e:
        to_integer("n", text)
    assert e.value.field == "n"


def test_integer_strings_as_java_reads_them():
    # Long.parseLong takes Unicode 13's decimal digits; an integral double is accepted too.
    assert [to_integer("n", t) for t in ("42", " -7\n", ARABIC_INDIC_THREE, "3.0", "1e3")] == [42, -7, 3, 3, 1000]
    with pytest.raises(InvalidInput):
        to_integer("n", "128", "byte")


def test_boolean_strings_as_mleap():
    """MLeap: a string of digits (Character.isDigit) is its Double.parseDouble != 0, which throws on
    digits beyond ASCII; anything else not true/yes/false/no/"" is true."""
    assert [to_boolean("b", t) for t in ("0", "000", "010", "yes", "no", "", "abc", KAWI_ONE, "\u00b2")] == \
        [False, False, True, True, False, False, True, True, True]
    with pytest.raises(InvalidInput) as e:
        to_boolean("b", ARABIC_INDIC_THREE)
    assert e.value.field == "b" and e.value.expected == "boolean"


@pytest.fixture(scope="module")
def label_to_number(tmp_path_factory):
    """reverse_string_indexer turns an index into a label (a string), which math_unary reads as a
    double: the string is cast between the two stages."""
    labels = ["2.5", KAWI_ONE, ARABIC_INDIC_THREE, "inf", "1_000", "0x1p3"]
    nodes = [node("labels", "reverse_string_indexer", {"labels": {"type": "list", "string": labels}},
                  inputs=[("input", "i")], outputs=[("output", "label")]),
             node("abs", "math_unary", {"operation": {"string": "abs"}},
                  inputs=[("input", "label")], outputs=[("output", "value")])]
    return load_bundle(write_bundle(tmp_path_factory.mktemp("casting") / "json", "json", nodes))


def test_strings_between_stages_parse_as_java(label_to_number):
    pipe = label_to_number
    assert pipe.transform({"i": 0.0})["value"] == 2.5
    assert pipe.transform({"i": 5.0})["value"] == 8.0
    assert pipe.transform_batch({"i": np.array([0.0, 5.0, 0.0])})["value"].tolist() == [2.5, 8.0, 2.5]
    for i, label in ((1, KAWI_ONE), (2, ARABIC_INDIC_THREE), (3, "inf"), (4, "1_000")):
        with pytest.raises(InvalidInput) as e:
            pipe.transform({"i": float(i)})
        assert e.value.field == "label" and e.value.actual == f"string {label!r}"
        with pytest.raises(InvalidInput) as e:
            pipe.transform_batch({"i": np.array([0.0, float(i)])})
        assert e.value.field == "label" and e.value.actual == f"string {label!r}" and e.value.row == 1


def test_string_inputs_parse_as_java_on_both_paths(label_to_number):
    pipe = label_to_number
    assert pipe.transform({"i": "0x1.4p2"})["value"] == 8.0  # index 5.0 in Java's hexadecimal
    for bad in (KAWI_ONE, ARABIC_INDIC_THREE, "inf"):
        with pytest.raises(InvalidInput) as e:
            pipe.transform({"i": bad})
        assert e.value.field == "i"
        with pytest.raises(InvalidInput) as e:
            pipe.transform_batch({"i": ["0", bad]})
        assert e.value.field == "i" and e.value.row == 1


def test_null_strings_between_stages_name_their_row(tmp_path):
    """A label read as a number between stages by an op that takes nulls (the bucketizer): the row
    path gives it a null for "" and "null"; a batch column of doubles cannot hold one, so the batch
    path refuses the row, naming it and its value."""
    nodes = [node("labels", "reverse_string_indexer", {"labels": {"type": "list", "string": ["2.5", "", "null"]}},
                  inputs=[("input", "i")], outputs=[("output", "label")]),
             node("buckets", "bucketizer", {"splits": {"type": "list", "double": [-1e300, 0.0, 1e300]},
                                            "handle_invalid": {"string": "keep"}},
                  inputs=[("input", "label")], outputs=[("output", "bucket")])]
    pipe = load_bundle(write_bundle(tmp_path / "json", "json", nodes))
    assert pipe.transform({"i": 1.0})["bucket"] is None
    assert pipe.transform_batch({"i": np.array([0.0, 0.0])})["bucket"].tolist() == [1.0, 1.0]
    for i, label in ((1, ""), (2, "null")):
        with pytest.raises(InvalidInput) as e:
            pipe.transform_batch({"i": np.array([0.0, float(i), 0.0])})
        assert (e.value.field, e.value.expected, e.value.actual, e.value.row) == ("label", "double", f"string {label!r}", 1)


def test_cast_errors_between_stages_name_their_input_row(tmp_path):
    """Rows with a null number take the row path apart from the others; a string cast between
    stages in one of the others is reported at its row of the input, and at the stage that reads
    it, as the row path reports it."""
    nodes = [node("labels", "reverse_string_indexer", {"labels": {"type": "list", "string": ["2.5", "x"]}},
                  inputs=[("input", "i")], outputs=[("output", "label")]),
             node("abs", "math_unary", {"operation": {"string": "abs"}},
                  inputs=[("input", "label")], outputs=[("output", "value")]),
             node("buckets", "bucketizer", {"splits": {"type": "list", "double": [-1e300, 0.0, 1e300]},
                                            "handle_invalid": {"string": "keep"}},
                  inputs=[("input", "z")], outputs=[("output", "bucket")])]
    pipe = load_bundle(write_bundle(tmp_path / "json", "json", nodes))
    with pytest.raises(InvalidInput) as single:
        pipe.transform({"i": 1.0, "z": 1.0})
    with pytest.raises(InvalidInput) as batch:
        pipe.transform_batch({"i": np.array([0.0, 0.0, 1.0]), "z": [None, 1.0, 1.0]})
    assert batch.value.row == 2 and single.value.row is None
    for e in (single.value, batch.value):
        assert (e.field, e.actual, e.node, e.op) == ("label", "string 'x'", "abs", "math_unary")
