"""server/frames.py: MLeap LeapFrames written by the tests' own encoder (tests/support/mleap_frames.py)
decode into the runtime's columns; answers encoded by the server read back with the tests' reader."""

from __future__ import annotations

import json

import numpy as np
import pytest

from leapserve.runtime import load_bundle
from leapserve.runtime.errors import InvalidInput, MissingInput
from leapserve.runtime.vectors import SparseVector
from leapserve.server import frames
from tests.support import mleap_frames as mf
from tests.support.bundles import FRAME, RF_ZIP

FIELDS = [
    ("d", "double"),
    ("s", "string"),
    ("i", "integer"),
    ("l", {"type": "basic", "base": "long", "isNullable": False}),
    ("b", "boolean"),
    ("strings", {"type": "list", "base": "string"}),
    ("v", {"type": "tensor", "base": "double", "dimensions": [3]}),
]
ROWS = [
    [1.5, "a", 7, 1 << 40, True, ["x", "y"], {"values": [1.0, 2.0, 3.0], "dimensions": [3]}],
    [None, None, None, -2, False, [], {"indices": [[2]], "values": [4.5], "dimensions": [3]}],
    [-0.25, "ü", -3, 0, None, None, None],
]


def encoded(fmt):
    return mf.json_frame(FIELDS, ROWS) if fmt == mf.JSON else mf.binary_frame(FIELDS, ROWS)


@pytest.mark.parametrize("fmt", [mf.JSON, mf.BINARY])
def test_every_kind_of_value_decodes_into_columns(fmt):
    frame = frames.decode_frame(encoded(fmt), fmt)
    assert frame.n == 3 and [f.name for f in frame.schema] == [n for n, _ in FIELDS]
    assert frames.FrameField("l", "scalar", "long", nullable=False) in frame.schema
    c = frame.columns
    assert list(c["d"]) == [1.5, None, -0.25] and list(c["s"]) == ["a", None, "ü"]
    assert list(c["i"]) == [7, None, -3]
    assert isinstance(c["l"], np.ndarray) and c["l"].tolist() == [1 << 40, -2, 0]  # no nulls: an array
    assert list(c["b"]) == [True, False, None] and list(c["strings"]) == [["x", "y"], [], None]
    dense, sparse, null = c["v"]
    assert dense == [1.0, 2.0, 3.0] and null is None
    assert isinstance(sparse, SparseVector) and (sparse.size, sparse.indices, sparse.values) == (3, (2,), (4.5,))


@pytest.mark.parametrize("fmt", [mf.JSON, mf.BINARY])
def test_dense_vectors_of_one_size_become_a_matrix(fmt):
    vectors = [("v", {"type": "tensor", "base": "double", "dimensions": [2]})]
    rows = [[{"values": [1.0, 2.0], "dimensions": [2]}], [{"values": [3.0, 4.5], "dimensions": [2]}]]
    col = frames.decode_frame(mf.json_frame(vectors, rows) if fmt == mf.JSON else mf.binary_frame(vectors, rows),
                              fmt).columns["v"]
    assert isinstance(col, np.ndarray) and col.tolist() == [[1.0, 2.0], [3.0, 4.5]]


def test_the_airbnb_frame_in_both_formats():
    from_json = frames.decode_frame(FRAME.read_bytes(), mf.JSON)
    doc = json.loads(FRAME.read_bytes())
    fields = [(f["name"], f["type"]) for f in doc["schema"]["fields"]]
    from_binary = frames.decode_frame(mf.binary_frame(fields, doc["rows"]), mf.BINARY)
    assert from_json.schema == from_binary.schema
    for name, col in from_json.columns.items():
        assert list(col) == list(from_binary.columns[name]), name
    assert isinstance(from_json.columns["bathrooms"], np.ndarray)  # numbers go to the batch path as arrays


@pytest.mark.parametrize("fmt", [mf.JSON, mf.BINARY])
def test_answers_read_back_with_an_independent_reader(fmt):
    frame = frames.decode_frame(encoded(fmt), fmt)
    schema = frame.schema
    data = frames.encode_frame(fmt, schema, [frame.columns[f.name] for f in schema], frame.n)
    fields, rows = (mf.read_json_frame if fmt == mf.JSON else mf.read_binary_frame)(data)
    assert fields == [(n, t if n not in ("v",) else {"type": "tensor", "base": "double", "dimensions": [3]})
                      for n, t in FIELDS]
    assert rows == ROWS
    # the whole frame echoed from the input rows (not re-encoded) reads the same
    echoed = frames.encode_frame(fmt, schema, [], frame.n, echo_rows=frame.rows)
    assert (mf.read_json_frame if fmt == mf.JSON else mf.read_binary_frame)(echoed)[1] == ROWS


@pytest.mark.parametrize("fmt", [mf.JSON, mf.BINARY])
def test_transform_frame_matches_the_row_path(fmt):
    pipeline = load_bundle(str(RF_ZIP))
    doc = json.loads(FRAME.read_bytes())
    fields = [(f["name"], f["type"]) for f in doc["schema"]["fields"]]
    rows = [list(doc["rows"][0]), list(doc["rows"][0])]
    rows[1][1] = 3.0  # bathrooms
    data = mf.json_frame(fields, rows) if fmt == mf.JSON else mf.binary_frame(fields, rows)
    out = frames.transform_frame(pipeline, frames.decode_frame(data, fmt))
    got_fields, got_rows = (mf.read_json_frame if fmt == mf.JSON else mf.read_binary_frame)(out)
    names = [n for n, _ in got_fields]
    assert names == [n for n, _ in fields] + list(pipeline.outputs)
    for row, got in zip(rows, got_rows):
        expected = pipeline.transform(dict(zip([n for n, _ in fields], row)))
        assert got[:len(row)] == row
        assert got[names.index("price_prediction")] == expected["price_prediction"]
        assert got[names.index("features_rf")]["values"] == list(expected["features_rf"])
    selected = frames.transform_frame(pipeline, frames.decode_frame(data, fmt), ["price_prediction", "state", "zz"],
                                      relaxed=True)
    sel_fields, sel_rows = (mf.read_json_frame if fmt == mf.JSON else mf.read_binary_frame)(selected)
    assert [n for n, _ in sel_fields] == ["price_prediction", "state"] and sel_rows[0][1] == "NY"
    with pytest.raises(frames.FrameError) as info:
        frames.transform_frame(pipeline, frames.decode_frame(data, fmt), ["price_prediction", "zz"])
    assert info.value.field == "zz" and "invalid field(s) 'zz'" in str(info.value)
    short = mf.json_frame(fields[1:], [r[1:] for r in rows]) if fmt == mf.JSON else \
        mf.binary_frame(fields[1:], [r[1:] for r in rows])
    with pytest.raises(MissingInput) as info:
        frames.transform_frame(pipeline, frames.decode_frame(short, fmt))
    assert info.value.field == "state"


def test_a_selection_is_kept_per_pipeline_schema_and_select_and_goes_with_its_pipeline():
    """The answer's fields are worked out once per (pipeline, input schema, select), not per frame; a
    reloaded model's entries go with its old pipeline."""
    import gc
    import weakref

    pipeline = load_bundle(str(RF_ZIP))
    schema = frames.decode_frame(FRAME.read_bytes(), mf.JSON).schema
    whole = frames._selection(pipeline, schema, (), False)
    assert frames._selection(pipeline, list(schema), [], False) is whole
    assert frames._selection(pipeline, schema, ["price_prediction"], False)[1] == ("price_prediction",)
    kept = len(frames._SELECTIONS)
    old = weakref.ref(pipeline)
    del pipeline
    gc.collect()
    assert old() is None and len(frames._SELECTIONS) < kept


def _error(data, fmt) -> InvalidInput:
    with pytest.raises(InvalidInput) as info:
        frames.decode_frame(data, fmt)
    return info.value


def test_json_values_are_checked_against_the_frames_schema():
    e = _error(mf.json_frame([("x", "double")], [[1.0], ["2.0"]]), mf.JSON)
    assert (e.field, e.row, e.actual) == ("x", 1, "str '2.0'") and "double" in e.expected
    e = _error(mf.json_frame([("n", {"type": "basic", "base": "double", "isNullable": False})], [[None]]), mf.JSON)
    assert (e.field, e.row, e.actual) == ("n", 0, "null")
    e = _error(mf.json_frame([("x", "double")], [[1], [10 ** 400]]), mf.JSON)
    assert (e.field, e.row) == ("x", 1) and e.actual.startswith("int 1000")
    e = _error(mf.json_frame([("i", "integer")], [[1 << 31]]), mf.JSON)
    assert e.field == "i" and "[-2147483648, 2147483647]" in e.expected
    e = _error(mf.json_frame([("x", "double"), ("y", "double")], [[1.0]]), mf.JSON)
    assert e.field == "rows" and e.row == 0 and e.actual == "1 values"
    e = _error(mf.json_frame([("x", "decimal")], [[1]]), mf.JSON)
    assert e.field == "x" and e.actual == "type 'decimal'"
    e = _error(mf.json_frame([("v", {"type": "tensor", "base": "double"})],
                             [[{"indices": [[5]], "values": [1.0], "dimensions": [3]}]]), mf.JSON)
    assert e.field == "v" and e.row == 0 and "[0, 3)" in e.expected
    e = _error(b'{"schema": {"fields": []}, "rows": [', mf.JSON)
    assert e.field == "frame" and "malformed JSON" in e.actual
    e = _error(b"{}", "text/csv")
    assert e.field == "format" and e.actual == "'text/csv'"


def test_binary_frames_are_checked():
    good = mf.binary_frame([("x", "double"), ("s", "string")], [[1.0, "a"], [2.0, "b"]])
    e = _error(good[:-3], mf.BINARY)
    assert e.field == "s" and e.row == 1 and "the frame ends" in e.actual
    e = _error(good + b"\x00", mf.BINARY)
    assert e.field == "frame" and "1 bytes after the last row" in e.actual
    e = _error(b"\x7f\x00\x00\x00{}", mf.BINARY)
    assert e.field == "schema"
    huge = mf.binary_frame([("s", "string")], [["a"]])[:-6] + b"\x01\x7f\xff\xff\xff"
    e = _error(huge, mf.BINARY)
    assert e.field == "s" and "length 2147483647" in e.actual
    latin1 = mf.binary_frame([("x", "double"), ("s", "string")], [[1.0, "a"], [2.0, "b"]])[:-1] + b"\xe9"
    e = _error(latin1, mf.BINARY)
    assert e.field == "s" and e.row == 1 and e.expected == "UTF-8 text"
    with pytest.raises(InvalidInput) as info:
        frames.decode_frame(mf.binary_frame([("x", "double")], [[1.0]] * 3), mf.BINARY, max_rows=2)
    assert info.value.field == "rows" and "at most 2 rows" in info.value.expected


def test_rows_of_a_row_stream():
    pipeline = load_bundle(str(RF_ZIP))
    doc = json.loads(FRAME.read_bytes())
    fields = [(f["name"], f["type"]) for f in doc["schema"]["fields"]]
    in_fields = frames.schema_from_json(doc["schema"])
    plan = frames.RowStreamPlan(pipeline, mf.BINARY, in_fields, ["price_prediction"])
    codec = plan.codec()
    out = plan.transform(pipeline, codec, mf.binary_row(fields, doc["rows"][0]))
    expected = pipeline.transform(dict(zip([n for n, _ in fields], doc["rows"][0])))["price_prediction"]
    assert mf.read_binary_row([("p", {"type": "basic", "base": "double", "isNullable": False})], out) == [expected]
    as_json = frames.RowStreamPlan(pipeline, mf.JSON, in_fields, ["state", "features_rf", "price_prediction"])
    out = json.loads(as_json.transform(pipeline, as_json.codec(), json.dumps(doc["rows"][0]).encode()))
    record = pipeline.transform(dict(zip([n for n, _ in fields], doc["rows"][0])))
    assert out == ["NY", {"values": list(record["features_rf"]), "dimensions": [13]}, expected]
    with pytest.raises(MissingInput):
        frames.RowStreamPlan(pipeline, mf.BINARY, in_fields[1:], ["price_prediction"])
    with pytest.raises(frames.FrameError) as info:
        plan.codec(in_fields=in_fields[1:])
    assert info.value.field == "input_schema"


def test_json_integers_beyond_a_double_are_refused_naming_field_and_row():
    huge = 10 ** 400
    e = _error(mf.json_frame([("x", "double")], [[None], [huge]]), mf.JSON)  # beside a null
    assert (e.field, e.row) == ("x", 1) and e.actual.startswith("int 1000")
    e = _error(mf.json_frame([("l", {"type": "list", "base": "double"})], [[[1.0]], [[2, huge]]]), mf.JSON)
    assert (e.field, e.row) == ("l", 1) and "within a double's range" in e.expected
    e = _error(mf.json_frame([("v", {"type": "tensor", "base": "double"})],
                             [[{"values": [huge], "dimensions": [1]}]]), mf.JSON)
    assert (e.field, e.row) == ("v", 0) and e.actual.startswith("int 1000")


@pytest.mark.parametrize("fmt", [mf.JSON, mf.BINARY])
def test_a_type_object_whose_type_is_not_a_name_is_refused(fmt):
    for kind in (["basic"], {"basic": 1}):
        e = _error(frame_with_type({"type": kind, "base": "double"}, fmt), fmt)
        assert e.field == "x" and "basic" in e.expected


def frame_with_type(t, fmt) -> bytes:
    schema = json.dumps({"fields": [{"name": "x", "type": t}]}).encode()
    if fmt == mf.JSON:
        return b'{"schema": ' + schema + b', "rows": []}'
    return len(schema).to_bytes(4, "big") + schema + bytes(4)


@pytest.mark.parametrize("fmt", [mf.JSON, mf.BINARY])
def test_a_schema_of_too_many_fields_is_refused_before_its_rows_are_read(fmt):
    fields = [(f"f{i}", "string" if i % 2 else "double") for i in range(frames.MAX_FIELDS + 1)]
    e = _error(frame_of(fmt, fields, []), fmt)
    assert (e.field, e.actual) == ("schema", f"{frames.MAX_FIELDS + 1} fields")
    assert f"at most {frames.MAX_FIELDS} fields" in e.expected
    frames.decode_frame(frame_of(fmt, fields[:frames.MAX_FIELDS], []), fmt)


def test_a_binary_frame_of_few_rows_is_read_without_compiling_a_reader(monkeypatch):
    compiled = []

    def counted(plan, max_string):
        compiled.append(len(plan))
        return real(plan, max_string)

    real = frames._compiled_reader
    monkeypatch.setattr(frames, "_compiled_reader", counted)
    fields = [("x", "double"), ("s", "string")]
    few = frames.decode_frame(mf.binary_frame(fields, [[1.0, "a"]] * 3), mf.BINARY)
    assert compiled == [] and list(few.columns["s"]) == ["a"] * 3
    many = frames.decode_frame(mf.binary_frame(fields, [[1.0, "a"]] * frames.COMPILE_MIN_ROWS), mf.BINARY)
    assert len(compiled) == 1 and many.n == frames.COMPILE_MIN_ROWS


def frame_of(fmt, fields, rows) -> bytes:
    return mf.json_frame(fields, rows) if fmt == mf.JSON else mf.binary_frame(fields, rows)


def test_json_tensor_dimensions_beyond_a_java_int_are_refused():
    vectors = [("v", {"type": "tensor", "base": "double"})]
    e = _error(mf.json_frame(vectors, [[{"indices": [[0]], "values": [1.0], "dimensions": [1 << 31]}]]), mf.JSON)
    assert (e.field, e.row) == ("v", 0) and "below 2147483648" in e.expected


@pytest.mark.parametrize("fmt", [mf.JSON, mf.BINARY])
def test_tensors_of_other_than_one_dimension_keep_their_shape_in_answers(fmt):
    fields = [("t", {"type": "tensor", "base": "int"}), ("m", {"type": "tensor", "base": "double"})]
    rows = [[{"values": [1, 2, 3, 4, 5, 6], "dimensions": [2, 3]}, {"values": [0.5], "dimensions": []}],
            [{"values": [], "dimensions": [0, 2]}, None]]
    frame = frames.decode_frame(frame_of(fmt, fields, rows), fmt)
    data = frames.encode_frame(fmt, frame.schema, [frame.columns[f.name] for f in frame.schema], frame.n)
    assert (mf.read_json_frame if fmt == mf.JSON else mf.read_binary_frame)(data)[1] == rows


@pytest.mark.parametrize("with_nulls", [False, True])
def test_json_answers_write_nan_and_infinity_as_null_as_mleap_does(with_nulls):
    fields = (frames.FrameField("d", "scalar", "double"), frames.FrameField("l", "list", "double"),
              frames.FrameField("v", "tensor", "double", dimensions=(2,)))
    nan, inf = float("nan"), float("inf")
    d = [nan, -inf, 1.5] + ([None] if with_nulls else [])
    lists = [[nan], [1.0, inf], []] + ([None] if with_nulls else [])
    vectors = np.array([[nan, 1.0], [inf, 2.0], [0.0, 0.5]] + ([[1.0, 1.0]] if with_nulls else []))
    data = frames.encode_frame(mf.JSON, fields, [np.array(d) if not with_nulls else d, lists, vectors], len(d))

    def refuse(text):
        raise AssertionError(f"{text} is not JSON")

    rows = json.loads(data, parse_constant=refuse)["rows"]
    assert [r[0] for r in rows][:3] == [None, None, 1.5] and rows[1][1] == [1.0, None]
    assert [r[2]["values"] for r in rows][:3] == [[None, 1.0], [None, 2.0], [0.0, 0.5]]
