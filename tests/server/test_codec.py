"""server/codec.py and server/wire.py in process: wire encoding and tags equal protobuf's, Values decode
and encode."""

from __future__ import annotations

import math
import types

import numpy as np
import pytest

from leapserve.v1 import prediction_pb2 as pb
from leapserve.v1 import value_pb2
from leapserve.server import codec, wire
from leapserve.runtime.errors import InvalidInput
from leapserve.runtime.types import FieldType, scalar, vector
from leapserve.runtime.vectors import DenseVector, SparseVector

CASES = [
    (scalar("double"), 1.5), (scalar("double"), 0.0), (scalar("double"), -0.0), (scalar("double"), math.inf),
    (scalar("double"), None), (scalar("float"), 0.25), (scalar("long"), -5), (scalar("int"), 0),
    (scalar("long"), 2**62), (scalar("boolean"), True), (scalar("boolean"), False),
    (scalar("string"), ""), (scalar("string"), "Gentoo ü €"), (scalar("string"), None),
    (vector(3), np.array([1.0, 0.0, -2.5])), (vector(0), np.array([])), (vector(4), SparseVector(4, [1, 3], [2.0, -1.0])),
    (vector(300), SparseVector(300, [0, 200, 299], [1.0, 2.0, 3.0])), (vector(2), [0.5, 0.25]),
    (vector(5), SparseVector(5, [], [])), (vector(2), None), (scalar("float"), None),
    (vector(3), DenseVector((1.0, 0.0, -2.5))), (vector(0), DenseVector(())), (vector(1), DenseVector((math.nan,))),
    (FieldType("list", "string"), ["a", "b"]), (FieldType("list", "double"), [1.0, 2.0]),
]


@pytest.mark.parametrize("ftype,value", CASES)
def test_wire_encoding_matches_protobuf(ftype, value):
    expected = value_pb2.Value()
    codec.setter_for(ftype)(expected, value)
    got = value_pb2.Value.FromString(codec.wire_encoder_for(ftype)(value))
    assert got == expected or (value is not None and isinstance(value, float) and math.isnan(value))


def test_wire_response_parses_as_predict_response():
    outputs = {f"o{i}": t for i, (t, _) in enumerate(CASES)}
    result = {f"o{i}": v for i, (_, v) in enumerate(CASES)}
    enc = codec.WireEncoder(outputs, list(outputs), wire.RESPONSE_OUTPUTS)
    data = (codec.string_field(wire.TAG_RESPONSE_MODEL, "m") + codec.string_field(wire.TAG_RESPONSE_VERSION, "7")
            + enc.encode(result))
    r = pb.PredictResponse.FromString(data)
    assert r.model == "m" and r.version == "7" and set(r.outputs) == set(outputs)
    for name, ftype in outputs.items():
        want = value_pb2.Value()
        codec.setter_for(ftype)(want, result[name])
        assert r.outputs[name] == want
    assert r.outputs["o2"].double_value == 0.0 and math.copysign(1, r.outputs["o2"].double_value) == -1


TAGGED = [  # (a message with one field set, the tag that field's encoding starts with)
    (value_pb2.Value(double_value=1.5), wire.TAG_DOUBLE_VALUE),
    (value_pb2.Value(float_value=1.5), wire.TAG_FLOAT_VALUE),
    (value_pb2.Value(int_value=-3), wire.TAG_INT_VALUE),
    (value_pb2.Value(bool_value=True), wire.TAG_BOOL_VALUE),
    (value_pb2.Value(string_value="x"), wire.TAG_STRING_VALUE),
    (value_pb2.Value(vector_value=value_pb2.Vector(size=1)), wire.TAG_VECTOR_VALUE),
    (value_pb2.Value(null_value=0), wire.TAG_NULL_VALUE),
    (value_pb2.Vector(size=2), wire.TAG_VECTOR_SIZE),
    (value_pb2.Vector(indices=[1, 300]), wire.TAG_VECTOR_INDICES),
    (value_pb2.Vector(values=[1.0, 2.0]), wire.TAG_VECTOR_VALUES),
    (pb.PredictResponse(model="m"), wire.TAG_RESPONSE_MODEL),
    (pb.PredictResponse(version="1"), wire.TAG_RESPONSE_VERSION),
    (pb.PredictResponse(request_id="r"), wire.TAG_RESPONSE_REQUEST_ID),
    (pb.PredictBatchResponse(model="m"), wire.TAG_BATCH_MODEL),
    (pb.PredictBatchResponse(version="1"), wire.TAG_BATCH_VERSION),
    (pb.PredictBatchResponse(request_id="r"), wire.TAG_BATCH_REQUEST_ID),
    (pb.PredictBatchResponse(results=[pb.RowResult()]), wire.TAG_BATCH_RESULTS),
    (pb.PredictBatchResponse(ok_count=3), wire.TAG_BATCH_OK_COUNT),
    (pb.PredictBatchResponse(invalid_count=3), wire.TAG_BATCH_INVALID_COUNT),
    (pb.PredictBatchResponse(skipped_count=3), wire.TAG_BATCH_SKIPPED_COUNT),
    (pb.RowResult(outcome=pb.RowResult.INVALID), wire.TAG_ROW_OUTCOME),
    (pb.RowResult(status=pb.Status(code=3)), wire.TAG_ROW_STATUS),
]


@pytest.mark.parametrize("message,tag", TAGGED, ids=[m.ListFields()[0][0].full_name for m, _ in TAGGED])
def test_tags_are_protobufs(message, tag):
    assert message.SerializeToString().startswith(tag)


@pytest.mark.parametrize("message,tags", [(pb.PredictResponse(), wire.RESPONSE_OUTPUTS),
                                          (pb.RowResult(), wire.ROW_OUTPUTS)])
def test_map_entry_tags_are_protobufs(message, tags):
    message.outputs["ü"].double_value = 2.0
    value = message.outputs["ü"].SerializeToString()
    entry = codec.map_entry_prefix(tags, "ü") + wire.varint(len(value)) + value
    assert message.SerializeToString() == tags.entry + wire.varint(len(entry)) + entry


def test_row_outcomes_are_protobufs():
    for outcome, encoded in ((pb.RowResult.INVALID, wire.OUTCOME_INVALID),
                             (pb.RowResult.SKIPPED, wire.OUTCOME_SKIPPED)):
        assert pb.RowResult(outcome=outcome).SerializeToString() == encoded


def test_decode_values():
    req = pb.PredictRequest()
    req.inputs["d"].double_value = 2.5
    req.inputs["s"].string_value = "x"
    req.inputs["n"].null_value = 0
    req.inputs["e"].SetInParent()  # no kind: null
    req.inputs["v"].vector_value.values.extend([1.0, 2.0])
    sv = req.inputs["sv"].vector_value
    sv.size, sv.indices[:], sv.values[:] = 5, [0, 4], [1.0, 2.0]
    lv = req.inputs["l"].list_value
    lv.values.add().string_value = "a"
    lv.values.add().int_value = 3
    c = codec.ModelCodec(types.SimpleNamespace(inputs={"d": scalar("double"), "s": scalar("string")}, outputs={}))
    rec = c.decode_record(req.inputs)
    assert rec == {"d": 2.5, "s": "x", "n": None, "e": None, "v": [1.0, 2.0], "sv": SparseVector(5, [0, 4], [1.0, 2.0]),
                   "l": ["a", 3]}
    bad = value_pb2.Value()
    bad.vector_value.size = 2
    bad.vector_value.indices.extend([3])
    bad.vector_value.values.extend([1.0])
    with pytest.raises(InvalidInput) as info:
        codec.decode_value("f", bad)
    assert info.value.field == "f"


def test_decode_record_reads_the_kind_each_input_type_suggests_and_any_other():
    """decode_record first reads the Value kind an input's type suggests (double_value for a double,
    ...), and takes it when it is not the kind's default; a default (0.0, "", 0, False), another kind
    or a null decodes as WhichOneof says, as for fields the pipeline does not read."""
    inputs = {"d": scalar("double"), "f": scalar("float"), "i": scalar("long"), "s": scalar("string"),
              "b": scalar("boolean"), "v": vector(2)}
    c = codec.ModelCodec(types.SimpleNamespace(inputs=inputs, outputs={}))
    c.max_string_length = 5
    sent = [  # (what each input gets, as a Value's fields, and what decodes)
        ({"d": {"double_value": 2.5}, "f": {"double_value": -1.0}, "i": {"int_value": 7}, "s": {"string_value": "ab"},
          "b": {"bool_value": True}}, {"d": 2.5, "f": -1.0, "i": 7, "s": "ab", "b": True}),
        ({"d": {"double_value": -0.0}, "f": {"double_value": math.nan}, "i": {"int_value": 0}, "s": {"string_value": ""},
          "b": {"bool_value": False}}, {"d": -0.0, "f": math.nan, "i": 0, "s": "", "b": False}),
        ({"d": {"int_value": 3}, "f": {"string_value": "1.5"}, "i": {"double_value": 2.0}, "s": {"bytes_value": b"xy"},
          "b": {"string_value": "true"}}, {"d": 3, "f": "1.5", "i": 2.0, "s": b"xy", "b": "true"}),
        ({"d": {"null_value": 0}, "f": {}, "i": {"float_value": 0.5}, "s": {"double_value": 4.0},
          "v": {"vector_value": {"values": [1.0, 2.0]}}}, {"d": None, "f": None, "i": 0.5, "s": 4.0, "v": [1.0, 2.0]}),
    ]
    for fields, expected in sent:
        req = pb.PredictRequest(inputs={name: value_pb2.Value(**value) for name, value in fields.items()})
        rec = c.decode_record(req.inputs)
        assert rec.keys() == expected.keys()
        for name, want in expected.items():
            got = rec[name]
            assert type(got) is type(want), (name, got, want)
            if type(want) is float:  # NaN as NaN, -0.0 with its sign
                same = math.isnan(got) if math.isnan(want) else (got, math.copysign(1, got)) == (want, math.copysign(1, want))
                assert same, (name, got, want)
            else:
                assert got == want, (name, got, want)
    for kind, value, unit in (("string_value", "abcdef", "characters"), ("bytes_value", b"abcdef", "bytes")):
        req = pb.PredictRequest(inputs={"s": value_pb2.Value(**{kind: value})})
        with pytest.raises(InvalidInput) as info:
            c.decode_record(req.inputs)
        assert info.value.field == "s" and info.value.actual == f"a string of 6 {unit}", info.value


def test_dense_vectors_of_many_sizes_encode_as_protobuf():
    """A dense vector output is packed after a head kept per size (at most eight sizes; others are
    written whole): every size, twice, encodes as protobuf does."""
    enc = codec.WireEncoder({"v": vector(None)}, ["v"], wire.RESPONSE_OUTPUTS)
    for size in [*range(13), *range(13)]:
        x = DenseVector(float(i) - 0.5 for i in range(size))
        want = value_pb2.Value()
        codec.setter_for(vector(size))(want, x)
        assert pb.PredictResponse.FromString(enc.encode({"v": x})).outputs["v"] == want, size


def test_value_round_trip():
    from leapserve.runtime.vectors import SparseVector

    sparse = {"size": 4, "indices": [1], "values": [2.0]}
    for x, back in ((1.5, 1.5), (3, 3), (True, True), ("t", "t"), (None, None), (b"ab", b"ab"),
                    ([1.0, 2.0], [1.0, 2.0]), (sparse, SparseVector(4, [1], [2.0])), ({"values": [1.0]}, [1.0])):
        v = value_pb2.Value()
        codec.encode_value(v, x, "f")
        assert codec.decode_value("f", v) == back, x


def test_wire_columns_match_row_encoding():
    from leapserve.runtime.vectors import SparseBatch

    n = 4
    columns = {
        "d": np.array([1.0, -2.5, 0.0, math.nan]),
        "v": np.arange(12.0).reshape(n, 3),
        "e": np.zeros((n, 0)),
        "s": SparseBatch.from_rows(6, [SparseVector(6, [0, 5], [1.0, 2.0]), SparseVector(6, [], []),
                                       [0.0, 3.0, 0.0, 0.0, 0.0, 0.0], SparseVector(6, [2], [-1.0])]),
        "t": np.array(["a", None, "ü", ""], dtype=object),
        "o": np.array([1.0, None, 2.0, None], dtype=object),
    }
    types = {"d": scalar("double"), "v": vector(3), "e": vector(0), "s": vector(6), "t": scalar("string"),
             "o": scalar("double")}
    enc = codec.WireEncoder(types, list(types), wire.ROW_OUTPUTS)
    bodies = enc.encode_columns(columns, n, types)
    for j, body in enumerate(bodies):
        row = pb.RowResult.FromString(body)
        for name, ftype in types.items():
            want = value_pb2.Value()
            codec.setter_for(ftype)(want, codec.column_rows(columns[name], n)[j])
            got = row.outputs[name]
            if name == "d" and j == 3:
                assert math.isnan(got.double_value)
            else:
                assert got == want, (name, j)


def test_values_that_cannot_be_encoded_name_their_field():
    msg = value_pb2.Value()
    with pytest.raises(codec.UnencodableValue) as e:
        codec.encode_value(msg, {"size": 3}, "island")
    assert e.value.field == "island" and "a vector" in e.value.expected and e.value.actual == "dict {'size': 3}"
    assert str(e.value).startswith("field 'island': cannot encode the value as a leapserve.v1.Value: expected ")
    with pytest.raises(codec.UnencodableValue) as e:
        codec.encode_value(msg, [1, 2**70], "depths")
    assert e.value.field == "depths" and e.value.expected == "an integer that fits in 64 bits"
    with pytest.raises(codec.UnencodableValue) as e:
        codec.encode_value(msg, {"values": [1.0], "indices": ["x"], "size": 4}, "v")
    assert e.value.field == "v" and e.value.actual.startswith("dict ")
    # an output the server cannot encode (a bug, not the client's fault) is named too, on every path
    ftype = FieldType("list", "tensor")  # encoded by the general fallback
    encoder = codec.WireEncoder({"tokens": ftype}, ["tokens"], wire.RESPONSE_OUTPUTS)
    with pytest.raises(codec.UnencodableValue) as e:
        encoder.encode({"tokens": [object()]})
    assert e.value.field == "tokens" and e.value.actual.startswith("object <object object at")
    column = np.empty(1, dtype=object)
    column[0] = [object()]
    with pytest.raises(codec.UnencodableValue) as e:
        encoder.encode_columns({"tokens": column}, 1, {"tokens": ftype})
    assert e.value.field == "tokens"
    assert not isinstance(e.value, InvalidInput)  # INTERNAL, not INVALID_ARGUMENT
