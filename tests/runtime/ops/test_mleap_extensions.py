"""MLeap extension ops: math_unary, math_binary, string_map.

MLeap's spark-extension jar is not served, so there is no Spark model to export: the bundles are
written here by hand, in both formats, and the runtime is checked against the math of MLeap's
mleap-core models evaluated with the JVM's java.lang.Math rules (spelled out in the expected
values below: Math.round half up, % with the dividend's sign, Commons Math logit on [0, 1])."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tests.support import golden
from tests.support.handmade import node, write_bundle
from leapserve.runtime import BundleError, ScoringError, load_bundle

NAN = float("nan")
INF = float("inf")
FORMATS = ("json", "protobuf")


def load(tmp_path, fmt, nodes):
    return load_bundle(write_bundle(tmp_path / fmt, fmt, nodes))


def same(a, b) -> bool:
    """Equal doubles, NaN equal to NaN, and -0.0 told apart from 0.0."""
    if isinstance(a, float) and math.isnan(a):
        return isinstance(b, float) and math.isnan(b)
    return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)


def check_rows_and_batch(pipe, column, inputs: dict, expected: list):
    """Every record scores to the expected value, and the batch path agrees (bit for bit on
    signs, within 1e-12 on transcendental values)."""
    n = len(expected)
    golden.record(pipe, [(i, {k: v[i] for k, v in inputs.items()}) for i in range(n)],
                  {i: {column: e} for i, e in enumerate(expected)}, outputs=[column])
    for i in range(n):
        got = pipe.transform({k: v[i] for k, v in inputs.items()})[column]
        e = expected[i]
        assert same(got, e) or (math.isfinite(e) and math.isclose(got, e, rel_tol=1e-12)), \
            (i, {k: v[i] for k, v in inputs.items()}, got, expected[i])
    batch = pipe.transform_batch({k: np.array(v, dtype=np.float64) if not isinstance(v[0], str) else v
                                  for k, v in inputs.items()})[column]
    for i in range(n):
        e = expected[i]
        assert same(float(batch[i]), e) or (math.isfinite(e) and math.isclose(float(batch[i]), e, rel_tol=1e-12)) \
            or (e == 0.0 and batch[i] == 0.0), (i, float(batch[i]), e)


# --- math_unary ----------------------------------------------------------------------------

X = [0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 2.5, -2.5, 1.4999999999999998, 0.49999999999999994, -1.5, 1e300, -1e300,
     4503599627370497.0, 1e19, -1e19, INF, -INF, NAN, math.pi / 2, 1e-320]

UNARY_EXPECTED = {
    # java.lang.Math semantics, written out: no exceptions, IEEE specials
    "log": lambda x: -INF if x == 0 else (NAN if x < 0 or x != x else (INF if x == INF else math.log(x))),
    "exp": lambda x: NAN if x != x else (INF if x > 709.8 else math.exp(x)),
    "sqrt": lambda x: NAN if x != x or x < 0 else (x if x == 0 or x == INF else math.sqrt(x)),
    "sin": lambda x: NAN if not math.isfinite(x) else math.sin(x),
    "cos": lambda x: NAN if not math.isfinite(x) else math.cos(x),
    "tan": lambda x: NAN if not math.isfinite(x) else math.tan(x),
    "abs": lambda x: abs(x),
    "floor": lambda x: x if not math.isfinite(x) or x == 0 else float(math.floor(x)),
    "ceil": lambda x: x if not math.isfinite(x) or x == 0 else (-0.0 if -1 < x < 0 else float(math.ceil(x))),
}
# Math.round: (long) floor(x + 1/2) with exact arithmetic, NaN -> 0, saturating at the long range.
ROUND_EXPECTED = [0.0, 0.0, 1.0, -1.0, 1.0, 0.0, 3.0, -2.0, 1.0, 0.0, -1.0, 9.223372036854775807e18,
                  -9.223372036854775808e18, 4503599627370497.0, 9.223372036854775807e18,
                  -9.223372036854775808e18, 9.223372036854775807e18, -9.223372036854775808e18, 0.0, 2.0, 0.0]


@pytest.mark.parity("math_unary")
@pytest.mark.parametrize("fmt", FORMATS)
def test_math_unary_java_semantics(tmp_path, fmt):
    ops = list(UNARY_EXPECTED) + ["round"]
    nodes = [node(f"u_{o}", "math_unary", {"operation": {"string": o}}, inputs=[("input", "x")],
                  outputs=[("output", f"y_{o}")])
             for o in ops]
    pipe = load(tmp_path, fmt, nodes)
    for o in UNARY_EXPECTED:
        check_rows_and_batch(pipe, f"y_{o}", {"x": X}, [UNARY_EXPECTED[o](x) for x in X])
    check_rows_and_batch(pipe, "y_round", {"x": X}, ROUND_EXPECTED)


@pytest.mark.parametrize("fmt", FORMATS)
def test_math_unary_logit(tmp_path, fmt):
    pipe = load(tmp_path, fmt, [node("lg", "math_unary", {"operation": {"string": "logit"}},
                                     inputs=[("input", "p")], outputs=[("output", "z")])])
    ps = [0.0, 1.0, 0.5, 0.25, 0.9, 1e-300, NAN]
    expected = [-INF, INF, 0.0, math.log(0.25 / 0.75), math.log(0.9 / (1 - 0.9)), math.log(1e-300 / 1.0), NAN]
    check_rows_and_batch(pipe, "z", {"p": ps}, expected)
    for bad in (-1e-9, 1.0000000000000002, 2.0, -INF, INF):  # Commons Math: outside [lo, hi] is an error
        with pytest.raises(ScoringError) as e:
            pipe.transform({"p": bad})
        assert e.value.field == "p"
        with pytest.raises(ScoringError) as e:
            pipe.transform_batch({"p": np.array([0.5, bad])})
        assert e.value.row == 1


@pytest.mark.parametrize("fmt", FORMATS)
def test_math_unary_null_and_bad_operation(tmp_path, fmt):
    pipe = load(tmp_path, fmt, [node("n", "math_unary", {"operation": {"string": "sqrt"}},
                                     inputs=[("input", "x")], outputs=[("output", "y")])])
    with pytest.raises(ScoringError) as e:  # MLeap: the input is a non-nullable double
        pipe.transform({"x": None})
    assert e.value.field == "x"
    with pytest.raises(ScoringError):
        pipe.transform_batch({"x": [1.0, None]})
    assert pipe.transform({"x": "4"})["y"] == 2.0  # strings parse, as MLeap's casting does
    with pytest.raises(BundleError, match="operation"):
        load(tmp_path / "bad", fmt, [node("n", "math_unary", {"operation": {"string": "cbrt"}},
                                          inputs=[("input", "x")], outputs=[("output", "y")])])


# --- math_binary ---------------------------------------------------------------------------

A = [7.5, -7.5, 7.5, -7.5, 1.0, 0.0, -0.0, 5.0, INF, 3.0, NAN, 1.0, -1.0, 2.0, -8.0, 0.0, -0.0, 10.0, 8.0, 0.0, -0.0]
B = [2.0, 2.0, -2.0, -2.0, 0.0, 0.0, 1.0, INF, 2.0, NAN, 0.0, NAN, INF, 1024.0, 1 / 3, -1.0, -3.0, 309.0, 2.0, -0.0,
     0.0]


def java_expected(op, a, b):
    if op == "add":
        return a + b
    if op == "sub":
        return a - b
    if op == "mul":
        return a * b
    if op == "div":
        if b == 0:
            return NAN if a == 0 or a != a else math.copysign(INF, a) * math.copysign(1.0, b)
        return a / b
    if op == "rem":  # Java %: NaN for x % 0 and Inf % y, x for x % Inf, else the dividend's sign
        if b == 0 or not math.isfinite(a) or b != b:
            return NAN
        return a if math.isinf(b) else math.fmod(a, b)
    if op == "pow":
        table = {(7.5, 2.0): 56.25, (-7.5, 2.0): 56.25, (7.5, -2.0): 1 / 56.25, (-7.5, -2.0): 1 / 56.25,
                 (1.0, 0.0): 1.0, (0.0, 0.0): 1.0, (-0.0, 1.0): -0.0, (5.0, INF): INF, (INF, 2.0): INF,
                 (3.0, NAN): NAN, (NAN, 0.0): 1.0, (1.0, NAN): NAN, (-1.0, INF): NAN, (2.0, 1024.0): INF,
                 (-8.0, 1 / 3): NAN, (0.0, -1.0): INF, (-0.0, -3.0): -INF, (10.0, 309.0): INF, (8.0, 2.0): 64.0,
                 (0.0, -0.0): 1.0, (-0.0, 0.0): 1.0}
        return table[(a, b)] if not (a != a) else table[(NAN, 0.0)]
    if op == "min":
        if a != a or b != b:
            return NAN
        if a == 0 and b == 0:
            return -0.0 if math.copysign(1, a) < 0 or math.copysign(1, b) < 0 else 0.0
        return min(a, b)
    if op == "max":
        if a != a or b != b:
            return NAN
        if a == 0 and b == 0:
            return 0.0 if math.copysign(1, a) > 0 or math.copysign(1, b) > 0 else -0.0
        return max(a, b)
    if op == "log_n":
        def jlog(x):
            return -INF if x == 0 else (NAN if x < 0 or x != x else (INF if x == INF else math.log(x)))
        return java_expected("div", jlog(a), jlog(b))
    raise AssertionError(op)


BINARY_OPS = ("add", "sub", "mul", "div", "rem", "log_n", "pow", "min", "max")


@pytest.mark.parity("math_binary")
@pytest.mark.parametrize("fmt", FORMATS)
def test_math_binary_java_semantics(tmp_path, fmt):
    nodes = [node(f"b_{o}", "math_binary", {"operation": {"string": o}},
                  inputs=[("input_a", "a"), ("input_b", "b")], outputs=[("output", f"y_{o}")]) for o in BINARY_OPS]
    pipe = load(tmp_path, fmt, nodes)
    for o in BINARY_OPS:
        if o == "pow":
            rows = [i for i in range(len(A)) if not (A[i] != A[i] and B[i] != 0.0)]
        else:
            rows = range(len(A))
        a, b = [A[i] for i in rows], [B[i] for i in rows]
        check_rows_and_batch(pipe, f"y_{o}", {"a": a, "b": b}, [java_expected(o, x, y) for x, y in zip(a, b)])


@pytest.mark.parametrize("fmt", FORMATS)
def test_math_binary_defaults_for_unwired_ports(tmp_path, fmt):
    nodes = [
        node("only_a", "math_binary", {"operation": {"string": "sub"}, "db": {"double": 0.5}},
             inputs=[("input_a", "a")], outputs=[("output", "a_minus")]),
        node("only_b", "math_binary", {"operation": {"string": "div"}, "da": {"double": 1.0}},
             inputs=[("input_b", "b")], outputs=[("output", "one_over_b")]),
        # a wired port wins over its default
        node("both", "math_binary", {"operation": {"string": "pow"}, "da": {"double": 10.0}, "db": {"double": 3.0}},
             inputs=[("input_a", "a"), ("input_b", "b")], outputs=[("output", "a_pow_b")]),
        node("none", "math_binary", {"operation": {"string": "log_n"}, "da": {"double": 8.0}, "db": {"double": 2.0}},
             inputs=[], outputs=[("output", "three")]),
    ]
    pipe = load(tmp_path, fmt, nodes)
    assert set(pipe.inputs) == {"a", "b"}
    out = pipe.transform({"a": 2.0, "b": 4.0})
    assert out == {"a_minus": 1.5, "one_over_b": 0.25, "a_pow_b": 16.0, "three": math.log(8.0) / math.log(2.0)}
    out = pipe.transform({"a": 3.0, "b": 0.0})
    assert out["one_over_b"] == INF and out["a_pow_b"] == 1.0
    batch = pipe.transform_batch({"a": [2.0, 3.0], "b": [4.0, 0.0]})
    assert batch["a_minus"].tolist() == [1.5, 2.5] and batch["one_over_b"].tolist() == [0.25, INF]
    assert batch["three"].tolist() == [3.0, 3.0]
    # the protobuf writer omits a zero default: {} still counts as da = 0.0
    pipe = load(tmp_path / "zero", fmt, [node("z", "math_binary", {"operation": {"string": "add"}, "da": {}},
                                              inputs=[("input_b", "b")], outputs=[("output", "y")])])
    assert pipe.transform({"b": 2.0}) == {"y": 2.0}


@pytest.mark.parametrize("fmt", FORMATS)
def test_math_binary_refusals(tmp_path, fmt):
    pipe = load(tmp_path, fmt, [node("b", "math_binary", {"operation": {"string": "add"}},
                                     inputs=[("input_a", "a"), ("input_b", "b")], outputs=[("output", "y")])])
    with pytest.raises(ScoringError) as e:
        pipe.transform({"a": 1.0, "b": None})
    assert e.value.field == "b"
    with pytest.raises(BundleError, match="input_b"):  # no port and no default
        load(tmp_path / "x", fmt, [node("b", "math_binary", {"operation": {"string": "add"}},
                                        inputs=[("input_a", "a")], outputs=[("output", "y")])])
    with pytest.raises(BundleError, match="operation"):
        load(tmp_path / "y", fmt, [node("b", "math_binary", {"operation": {"string": "atan2"}},
                                        inputs=[("input_a", "a"), ("input_b", "b")], outputs=[("output", "y")])])


# --- string_map ----------------------------------------------------------------------------

def string_map_attrs(handle_invalid=None, default=None):
    attrs = {"labels": {"type": "list", "string": ["a", "b", "", "é", "a"]},
             "values": {"type": "list", "double": [1.0, 2.5, -1.0, 7.0, 3.0]}}
    if handle_invalid is not None:
        attrs["handle_invalid"] = {"string": handle_invalid}
    if default is not None:
        attrs["default_value"] = {"double": default}
    return attrs


@pytest.mark.parity("string_map")
@pytest.mark.parametrize("fmt", FORMATS)
def test_string_map(tmp_path, fmt):
    nodes = [
        node("err", "string_map", string_map_attrs(), inputs=[("input", "s")], outputs=[("output", "strict")]),
        node("keep", "string_map", string_map_attrs("keep", -9.5), inputs=[("input", "s")],
             outputs=[("output", "kept")]),
        node("keep0", "string_map", string_map_attrs("keep"), inputs=[("input", "s")], outputs=[("output", "kept0")]),
    ]
    pipe = load(tmp_path, fmt, nodes)
    known = {"a": 3.0, "b": 2.5, "": -1.0, "é": 7.0}
    strings = [*known, "zzz", "A", None]
    golden.record(pipe, [(i, {"s": s}) for i, s in enumerate(strings)],
                  {i: {"kept": known.get(s, -9.5), "kept0": known.get(s, 0.0)} for i, s in enumerate(strings)},
                  outputs=["kept", "kept0"])
    # a repeated label keeps its last value (Scala's toMap)
    for s, v in (("a", 3.0), ("b", 2.5), ("", -1.0), ("é", 7.0)):
        assert pipe.transform({"s": s}) == {"strict": v, "kept": v, "kept0": v}
    batch = pipe.transform_batch({"s": ["a", "", "é"]})
    assert batch["strict"].tolist() == [3.0, -1.0, 7.0]
    for unknown in ("zzz", "A", None, 1.0):  # 1.0 is cast to the string "1.0"
        with pytest.raises(ScoringError) as e:
            pipe.transform({"s": unknown}, ["strict"])
        assert e.value.field == "s"
        assert pipe.transform({"s": unknown}, ["kept", "kept0"]) == {"kept": -9.5, "kept0": 0.0}
    batch = pipe.transform_batch({"s": ["a", None, "zzz"]}, ["kept", "kept0"])
    assert batch["kept"].tolist() == [3.0, -9.5, -9.5] and batch["kept0"].tolist() == [3.0, 0.0, 0.0]
    with pytest.raises(ScoringError) as e:
        pipe.transform_batch({"s": ["a", "b", "nope"]}, ["strict"])
    assert e.value.row == 2


@pytest.mark.parametrize("fmt", FORMATS)
def test_string_map_bad_attributes(tmp_path, fmt):
    with pytest.raises(BundleError, match="handle_invalid"):  # MLeap refuses skip for string_map
        load(tmp_path / "a", fmt, [node("m", "string_map", string_map_attrs("skip"), inputs=[("input", "s")],
                                        outputs=[("output", "y")])])
    attrs = string_map_attrs()
    attrs["values"] = {"type": "list", "double": [1.0]}
    with pytest.raises(BundleError, match="labels"):
        load(tmp_path / "b", fmt, [node("m", "string_map", attrs, inputs=[("input", "s")], outputs=[("output", "y")])])


def test_extension_ops_chain(tmp_path):
    """string_map -> math_binary -> math_unary in one pipeline, row and batch."""
    nodes = [
        node("m", "string_map", string_map_attrs("keep", 0.25), inputs=[("input", "s")], outputs=[("output", "v")]),
        node("b", "math_binary", {"operation": {"string": "mul"}}, inputs=[("input_a", "v"), ("input_b", "w")],
             outputs=[("output", "vw")]),
        node("u", "math_unary", {"operation": {"string": "round"}}, inputs=[("input", "vw")],
             outputs=[("output", "r")]),
    ]
    pipe = load(tmp_path, "json", nodes)
    assert pipe.transform({"s": "b", "w": 3.0}) == {"v": 2.5, "vw": 7.5, "r": 8.0}
    assert pipe.transform({"s": "?", "w": -2.0}) == {"v": 0.25, "vw": -0.5, "r": 0.0}
    batch = pipe.transform_batch({"s": ["b", "?"], "w": [3.0, -2.0]})
    assert batch["r"].tolist() == [8.0, 0.0]
