"""MLeap extension ops: math_unary, math_binary, string_map.

MLeap's spark-extension jar is not served, so there is no Spark model to export: the bundles are
written here by hand, in both formats, and MLeap's own JVM runtime is the oracle. It scores the
JSON bundle through MLeap's binary frame format (tools.mleap_jvm.score_binary), which carries NaN,
the infinities and -0.0 as they are; the runtime must give its answers on the row and the batch
path for both formats, bit for bit (the sign of zero included) except where an op's entry in
ULPS allows a few units in the last place, with the reason. The harness's MLeap (0.20) predates
math_unary's floor, ceil and round (MLeap 0.21: java.lang.Math's functions): for those the same
JVM evaluates java.lang.Math itself (tools.mleap_jvm.java_math)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tests.support import golden
from tests.support.compared import compared
from tests.support.handmade import node, write_bundle
from tools.mleap_jvm import HarnessError, frame_column
from leapserve.runtime import BundleError, ScoringError, load_bundle

NAN = float("nan")
INF = float("inf")
FORMATS = ("json", "protobuf")
DOUBLE = {"type": "basic", "base": "double", "isNullable": False}  # MLeap's math ops read non-nullable doubles

# Where the JVM's libm and the runtime's (the C library's, through Python's math and numpy)
# legitimately round differently: op/operation -> (ulps allowed, why). Everything else is bit for bit.
ULPS: dict[str, tuple[int, str]] = {
    # java.lang.Math's trigonometry is within 1 ulp (its specification), HotSpot's x86 intrinsics
    # not correctly rounded; the C library's are: sin(2.5) ends ...565 here, ...564 in the JVM
    "math_unary/sin": (1, "HotSpot's Math.sin intrinsic is within 1 ulp, not correctly rounded"),
    "math_unary/cos": (1, "HotSpot's Math.cos intrinsic is within 1 ulp, not correctly rounded"),
    "math_unary/tan": (1, "HotSpot's Math.tan intrinsic is within 1 ulp, not correctly rounded"),
}


def load(tmp_path, fmt, nodes):
    return load_bundle(write_bundle(tmp_path / fmt, fmt, nodes))


def same(a, b) -> bool:
    """Equal doubles, NaN equal to NaN, and -0.0 told apart from 0.0."""
    if isinstance(a, float) and math.isnan(a):
        return isinstance(b, float) and math.isnan(b)
    return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)


def ulps_apart(a: float, b: float) -> float:
    if not (math.isfinite(a) and math.isfinite(b)):
        return math.inf
    return abs(a - b) / math.ulp(max(abs(a), abs(b)))


def jvm_answers(mleap_jvm, tmp_path, nodes, inputs: dict, columns) -> dict:
    """MLeap's JVM runtime's values of ``columns`` for the rows of ``inputs`` (column -> values),
    scored from the nodes written as a JSON bundle."""
    bundle = write_bundle(tmp_path / "jvm", "json", nodes)
    names = list(inputs)
    rows = [list(r) for r in zip(*(inputs[n] for n in names))]
    fields = [(n, "string" if isinstance(inputs[n][0], str) or inputs[n][0] is None else DOUBLE) for n in names]
    frame = mleap_jvm.score_binary(bundle, fields, rows)
    return {c: frame_column(frame, c) for c in columns}


def check_as_jvm(pipe, column, inputs: dict, want: list, key: str):
    """Every record and the batch give MLeap's JVM answers ``want`` (ULPS[key] allowing), and the
    case joins the golden set."""
    allowed, _ = ULPS.get(key, (0, ""))
    n = len(want)
    records = [{k: v[i] for k, v in inputs.items()} for i in range(n)]
    golden.record(pipe, list(enumerate(records)), {i: {column: w} for i, w in enumerate(want)}, outputs=[column])
    batch = pipe.transform_batch({k: np.array(v, dtype=np.float64) if not isinstance(v[0], str) else v
                                  for k, v in inputs.items()})[column]
    for i, record in enumerate(records):
        for path, got in (("row", pipe.transform(record)[column]), ("batch", float(batch[i]))):
            assert same(got, want[i]) or ulps_apart(got, want[i]) <= allowed, \
                f"{key} {path} {record}: the runtime gives {got!r}, MLeap's JVM {want[i]!r}"
    compared(pipe, [column])


# --- math_unary ----------------------------------------------------------------------------

X = [0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 2.5, -2.5, 1.4999999999999998, 0.49999999999999994, -1.5, 1e300, -1e300,
     4503599627370497.0, 1e19, -1e19, INF, -INF, NAN, math.pi / 2, math.pi, 1e-320, -1e-320, 5e-324, 1e-300,
     709.782712893384, 709.7827128933841, -745.1332191019411, -745.2, 1e22, 1e16, 0.7853981633974483,
     1.5707963267948966e10, 2.2250738585072014e-308, 1.7976931348623157e308, -0.49999999999999994, 3.0, 100.25]
X += np.random.default_rng(5).uniform(-50.0, 50.0, 40).round(6).tolist()
MLEAP_020_UNARY = ("log", "exp", "sqrt", "sin", "cos", "tan", "abs")
JAVA_MATH_UNARY = ("floor", "ceil", "round")


def unary_nodes(ops):
    return [node(f"u_{o}", "math_unary", {"operation": {"string": o}}, inputs=[("input", "x")],
                 outputs=[("output", f"y_{o}")]) for o in ops]


@pytest.mark.parity("math_unary")
@pytest.mark.parametrize("fmt", FORMATS)
def test_math_unary_as_mleaps_jvm(mleap_jvm, tmp_path, fmt):
    nodes = unary_nodes(MLEAP_020_UNARY + JAVA_MATH_UNARY)
    pipe = load(tmp_path, fmt, nodes)
    want = jvm_answers(mleap_jvm, tmp_path, unary_nodes(MLEAP_020_UNARY), {"x": X},
                       [f"y_{o}" for o in MLEAP_020_UNARY])
    for o in MLEAP_020_UNARY:
        check_as_jvm(pipe, f"y_{o}", {"x": X}, want[f"y_{o}"], f"math_unary/{o}")
    for o in JAVA_MATH_UNARY:
        check_as_jvm(pipe, f"y_{o}", {"x": X}, mleap_jvm.java_math(o, X), f"math_unary/{o}")


@pytest.mark.parametrize("fmt", FORMATS)
def test_math_unary_logit(mleap_jvm, tmp_path, fmt):
    nodes = [node("lg", "math_unary", {"operation": {"string": "logit"}}, inputs=[("input", "p")],
                  outputs=[("output", "z")])]
    pipe = load(tmp_path, fmt, nodes)
    ps = [0.0, 1.0, 0.5, 0.25, 0.9, 1e-300, NAN, -0.0, 0.9999999999999999, 5e-324, 0.1, 0.7]
    want = jvm_answers(mleap_jvm, tmp_path, nodes, {"p": ps}, ["z"])["z"]
    check_as_jvm(pipe, "z", {"p": ps}, want, "math_unary/logit")
    for bad in (-1e-9, 1.0000000000000002, 2.0, -INF, INF):  # Commons Math: outside [lo, hi] is an error
        with pytest.raises(HarnessError, match="OutOfRangeException"):
            jvm_answers(mleap_jvm, tmp_path / "bad", nodes, {"p": [bad]}, ["z"])
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

A = [7.5, -7.5, 7.5, -7.5, 1.0, 0.0, -0.0, 5.0, INF, 3.0, NAN, 1.0, -1.0, 2.0, -8.0, 0.0, -0.0, 10.0, 8.0, 0.0, -0.0,
     NAN, -INF, INF, 1e308, 5e-324, -2.0, 0.1, 1e-300, -3.0]
B = [2.0, 2.0, -2.0, -2.0, 0.0, 0.0, 1.0, INF, 2.0, NAN, 0.0, NAN, INF, 1024.0, 1 / 3, -1.0, -3.0, 309.0, 2.0, -0.0,
     0.0, 3.0, -INF, INF, 10.0, 0.5, 0.5, 0.2, -1e-300, -1.0e308]
rng = np.random.default_rng(9)
A += rng.uniform(-20.0, 20.0, 30).round(5).tolist()
B += rng.uniform(-6.0, 6.0, 30).round(5).tolist()
BINARY_OPS = ("add", "sub", "mul", "div", "rem", "log_n", "pow", "min", "max")


def binary_nodes():
    return [node(f"b_{o}", "math_binary", {"operation": {"string": o}},
                 inputs=[("input_a", "a"), ("input_b", "b")], outputs=[("output", f"y_{o}")]) for o in BINARY_OPS]


@pytest.mark.parity("math_binary")
@pytest.mark.parametrize("fmt", FORMATS)
def test_math_binary_as_mleaps_jvm(mleap_jvm, tmp_path, fmt):
    pipe = load(tmp_path, fmt, binary_nodes())
    inputs = {"a": A, "b": B}
    want = jvm_answers(mleap_jvm, tmp_path, binary_nodes(), inputs, [f"y_{o}" for o in BINARY_OPS])
    for o in BINARY_OPS:
        check_as_jvm(pipe, f"y_{o}", inputs, want[f"y_{o}"], f"math_binary/{o}")


@pytest.mark.parametrize("fmt", FORMATS)
def test_math_binary_defaults_for_unwired_ports(tmp_path, fmt):
    """Checked by hand: MLeap 0.20's MathBinary fails on any node carrying ``da`` or ``db`` (a
    ClassCastException while it builds the transformer), so its JVM runtime cannot be the oracle."""
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
    assert out == {"a_minus": 1.5, "one_over_b": 0.25, "a_pow_b": 16.0, "three": 3.0}
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


def check_as_string_map(pipe, column, strings, want):
    """Row and batch paths give MLeap's JVM values, exactly; the case joins the golden set."""
    golden.record(pipe, [(i, {"s": s}) for i, s in enumerate(strings)], {i: {column: w} for i, w in enumerate(want)},
                  outputs=[column])
    assert [pipe.transform({"s": s}, [column])[column] for s in strings] == want
    assert pipe.transform_batch({"s": strings}, [column])[column].tolist() == want
    compared(pipe, [column])


@pytest.mark.parity("string_map")
@pytest.mark.parametrize("fmt", FORMATS)
def test_string_map(mleap_jvm, tmp_path, fmt):
    nodes = [
        node("err", "string_map", string_map_attrs(), inputs=[("input", "s")], outputs=[("output", "strict")]),
        node("keep", "string_map", string_map_attrs("keep", -9.5), inputs=[("input", "s")],
             outputs=[("output", "kept")]),
        node("keep0", "string_map", string_map_attrs("keep"), inputs=[("input", "s")], outputs=[("output", "kept0")]),
    ]
    pipe = load(tmp_path, fmt, nodes)
    known = ["a", "b", "", "é"]
    strings = known + ["zzz", "A", "a ", "É"]
    # MLeap's JVM runtime: the "keep" nodes over every string, the strict one over the known labels
    want = jvm_answers(mleap_jvm, tmp_path / "keep", nodes[1:], {"s": strings}, ["kept", "kept0"])
    assert want["kept"][:4] == [3.0, 2.5, -1.0, 7.0]  # a repeated label keeps its last value (Scala's toMap)
    for column in ("kept", "kept0"):
        check_as_string_map(pipe, column, strings, want[column])
    strict = jvm_answers(mleap_jvm, tmp_path / "strict", nodes[:1], {"s": known}, ["strict"])["strict"]
    check_as_string_map(pipe, "strict", known, strict)
    for unknown in ("zzz", "A"):
        with pytest.raises(HarnessError, match="zzz|A"):
            jvm_answers(mleap_jvm, tmp_path / f"strict-{unknown}", nodes[:1], {"s": [unknown]}, ["strict"])
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
