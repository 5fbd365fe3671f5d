"""leapserve.v1.PredictionService against a real server process: every RPC and every error."""

from __future__ import annotations

import math

import grpc
import pytest

from leapserve.v1 import prediction_pb2 as pb
from leapserve.v1 import prediction_pb2_grpc as pb_grpc
from tests.support.bundles import v1_expected, v2_expected

INVALID = grpc.StatusCode.INVALID_ARGUMENT


@pytest.fixture(scope="module")
def stub(lr_server):
    return pb_grpc.PredictionServiceStub(lr_server.open_channel())


def request(model="lr", version="", **inputs):
    req = pb.PredictRequest(model=model, version=version, request_id="t-1")
    for k, v in inputs.items():
        if isinstance(v, bool):
            req.inputs[k].bool_value = v
        elif isinstance(v, int):
            req.inputs[k].int_value = v
        elif isinstance(v, float):
            req.inputs[k].double_value = v
        elif isinstance(v, str):
            req.inputs[k].string_value = v
        elif v is None:
            req.inputs[k].null_value = 0
        else:
            raise TypeError(v)
    return req


def error_of(call, *args, **kwargs) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as info:
        call(*args, **kwargs)
    return info.value


def trailers(err) -> dict:
    return dict(err.trailing_metadata() or ())


# --- Predict -------------------------------------------------------------------------------------

def test_predict_default_version_is_the_highest(stub):
    r = stub.Predict(request(a=1.5, b=2.0), timeout=10)
    assert r.model == "lr" and r.version == "2" and r.request_id == "t-1"
    assert r.outputs["prediction"].double_value == pytest.approx(v2_expected(1.5, 2.0), abs=1e-9)
    vec = r.outputs["features"].vector_value
    assert list(vec.values) == [1.5, 2.0] and vec.size == 2 and not vec.indices


def test_predict_explicit_version(stub):
    r = stub.Predict(request(version="1", a=3.0, b=1.0), timeout=10)
    assert r.version == "1"
    assert r.outputs["prediction"].double_value == pytest.approx(v1_expected(3.0, 1.0), abs=1e-9)


def test_predict_casts_inputs_like_mleap(stub):
    # int -> double, string -> double, float32 -> double, bool -> double
    req = request(version="1", a=3, b="1.5")
    r = stub.Predict(req, timeout=10)
    assert r.outputs["prediction"].double_value == pytest.approx(v1_expected(3.0, 1.5), abs=1e-9)
    req = pb.PredictRequest(model="lr", version="1")
    req.inputs["a"].float_value = 0.5
    req.inputs["b"].bool_value = True
    r = stub.Predict(req, timeout=10)
    assert r.outputs["prediction"].double_value == pytest.approx(v1_expected(0.5, 1.0), abs=1e-9)


def test_predict_selected_outputs_and_extra_inputs(stub):
    req = request(version="1", a=1.0, b=0.0, unrelated="ignored")
    req.outputs.append("prediction")
    r = stub.Predict(req, timeout=10)
    assert list(r.outputs) == ["prediction"]


def test_predict_sparse_zero_features_are_sparse(stub):
    # The assembler compresses [0, 0] to a sparse vector, as Spark does.
    r = stub.Predict(request(version="1", a=0.0, b=0.0), timeout=10)
    vec = r.outputs["features"].vector_value
    assert vec.size == 2 and list(vec.indices) == [] and list(vec.values) == []


def test_predict_vector_input_dense_and_sparse(stub):
    req = pb.PredictRequest(model="vec")
    req.inputs["features"].vector_value.values.extend([2.0, 1.0])
    r = stub.Predict(req, timeout=10)
    assert r.outputs["prediction"].double_value == pytest.approx(v1_expected(2.0, 1.0), abs=1e-9)
    req = pb.PredictRequest(model="vec")
    sv = req.inputs["features"].vector_value
    sv.size, sv.indices[:], sv.values[:] = 2, [1], [3.0]
    r = stub.Predict(req, timeout=10)
    assert r.outputs["prediction"].double_value == pytest.approx(v1_expected(0.0, 3.0), abs=1e-9)
    # a list of numbers is a dense vector too
    req = pb.PredictRequest(model="vec")
    for x in (1.0, 1.0):
        req.inputs["features"].list_value.values.add().double_value = x
    r = stub.Predict(req, timeout=10)
    assert r.outputs["prediction"].double_value == pytest.approx(v1_expected(1.0, 1.0), abs=1e-9)


def test_directory_bundle(stub):
    r = stub.Predict(request(model="lrdir", a=1.0, b=1.0), timeout=10)
    assert r.outputs["prediction"].double_value == pytest.approx(v1_expected(1.0, 1.0), abs=1e-9)


# --- errors ------------------------------------------------------------------------------------------

def test_unknown_model_and_version_are_not_found(stub):
    err = error_of(stub.Predict, request(model="nope", a=1.0, b=1.0), timeout=10)
    assert err.code() == grpc.StatusCode.NOT_FOUND and "nope" in err.details()
    err = error_of(stub.Predict, request(version="7", a=1.0, b=1.0), timeout=10)
    assert err.code() == grpc.StatusCode.NOT_FOUND and "'7'" in err.details()


def test_missing_field(stub):
    err = error_of(stub.Predict, request(a=1.0), timeout=10)
    assert err.code() == INVALID
    assert "'b'" in err.details() and "missing" in err.details() and "double" in err.details()
    assert trailers(err)["leapserve-field"] == "b"


def test_wrong_type(stub):
    err = error_of(stub.Predict, request(a="abc", b=1.0), timeout=10)
    assert err.code() == INVALID
    assert "'a'" in err.details() and "double" in err.details() and "'abc'" in err.details()
    t = trailers(err)
    assert t["leapserve-field"] == "a" and t["leapserve-expected"] == "double" and "abc" in t["leapserve-actual"]


def test_null_refused_by_the_assembler(stub):
    err = error_of(stub.Predict, request(a=None, b=1.0), timeout=10)
    assert err.code() == INVALID and "'a'" in err.details() and "null" in err.details()


def test_bad_vectors(stub):
    req = pb.PredictRequest(model="vec")
    req.inputs["features"].vector_value.values.extend([1.0, 2.0, 3.0])
    err = error_of(stub.Predict, req, timeout=10)
    assert err.code() == INVALID and "'features'" in err.details() and "size 2" in err.details() and "size 3" in err.details()
    req = pb.PredictRequest(model="vec")
    sv = req.inputs["features"].vector_value
    sv.size, sv.indices[:], sv.values[:] = 2, [1, 0], [1.0, 2.0]  # not increasing
    err = error_of(stub.Predict, req, timeout=10)
    assert err.code() == INVALID and "'features'" in err.details() and "increasing" in err.details()
    req = pb.PredictRequest(model="vec")
    sv = req.inputs["features"].vector_value
    sv.size, sv.indices[:], sv.values[:] = 2, [5], [1.0]  # out of range
    assert error_of(stub.Predict, req, timeout=10).code() == INVALID
    req = pb.PredictRequest(model="vec")
    req.inputs["features"].string_value = "1,2"
    err = error_of(stub.Predict, req, timeout=10)
    assert err.code() == INVALID and "vector" in err.details()


def test_unknown_output(stub):
    req = request(a=1.0, b=1.0)
    req.outputs.append("nonsense")
    err = error_of(stub.Predict, req, timeout=10)
    assert err.code() == INVALID and "nonsense" in err.details()


def test_server_survives_errors(stub, lr_server):
    for _ in range(3):
        error_of(stub.Predict, request(a="x", b=1.0), timeout=10)
        error_of(stub.Predict, request(model="nope"), timeout=10)
    assert stub.Predict(request(a=1.0, b=1.0), timeout=10).outputs["prediction"].double_value == pytest.approx(12.0)
    assert lr_server.proc.poll() is None
    assert "Traceback" not in lr_server.log()


def test_message_too_large_is_resource_exhausted(stub):
    req = request(a=1.0, b=1.0)
    req.inputs["padding"].string_value = "x" * (5 * 1024 * 1024)  # the server allows 4 MiB
    assert error_of(stub.Predict, req, timeout=10).code() == grpc.StatusCode.RESOURCE_EXHAUSTED


def test_deadline(stub):
    big = batch([{"a": float(i), "b": "x" if i % 2 else 1.0} for i in range(5000)])  # per-row fallback
    err = error_of(stub.PredictBatch, big, timeout=0.002)
    assert err.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert stub.Predict(request(a=1.0, b=1.0), timeout=10).outputs["prediction"].double_value == pytest.approx(12.0)


# --- PredictBatch ---------------------------------------------------------------------------------

def batch(rows, model="lr", version="1", **kw):
    req = pb.PredictBatchRequest(model=model, version=version, request_id="b-1", **kw)
    for row in rows:
        rec = req.records.add()
        for k, v in row.items():
            if isinstance(v, str):
                rec.fields[k].string_value = v
            elif v is None:
                rec.fields[k].null_value = 0
            else:
                rec.fields[k].double_value = v
    return req


def test_batch_answers_in_order(stub):
    rows = [{"a": float(i), "b": float(i % 3)} for i in range(50)]
    r = stub.PredictBatch(batch(rows), timeout=10)
    assert r.ok_count == 50 and r.invalid_count == 0 and r.skipped_count == 0 and r.version == "1"
    assert [x.outputs["prediction"].double_value for x in r.results] == pytest.approx(
        [v1_expected(**row) for row in rows], abs=1e-9)


def test_batch_bad_rows_reported_one_by_one(stub):
    rows = [{"a": 1.0, "b": 1.0}, {"a": "oops", "b": 1.0}, {"b": 2.0}, {"a": None, "b": 1.0}, {"a": 2.0, "b": 0.0}]
    r = stub.PredictBatch(batch(rows), timeout=10)
    assert [x.outcome for x in r.results] == [pb.RowResult.OK, pb.RowResult.INVALID, pb.RowResult.INVALID,
                                              pb.RowResult.INVALID, pb.RowResult.OK]
    assert r.ok_count == 2 and r.invalid_count == 3
    assert r.results[0].outputs["prediction"].double_value == pytest.approx(v1_expected(1.0, 1.0))
    assert r.results[4].outputs["prediction"].double_value == pytest.approx(v1_expected(2.0, 0.0))
    bad = r.results[1].status
    assert bad.code == INVALID.value[0] and bad.field == "a" and bad.expected == "double" and "oops" in bad.actual
    assert "row 1" in bad.message
    missing = r.results[2].status
    assert missing.field == "a" and "missing" in missing.message and missing.expected == "double"
    assert r.results[3].status.field == "a" and "null" in r.results[3].status.actual
    assert not r.results[1].outputs


def test_batch_all_or_nothing(stub):
    rows = [{"a": 1.0, "b": 1.0}, {"a": 1.0, "b": "bad"}, {"a": 1.0}]
    err = error_of(stub.PredictBatch, batch(rows, all_or_nothing=True), timeout=10)
    assert err.code() == INVALID and "row 1" in err.details() and "'b'" in err.details()
    assert "1 more" in err.details()
    assert trailers(err)["leapserve-field"] == "b"


def test_batch_selected_outputs_and_default_version(stub):
    req = batch([{"a": 1.0, "b": 1.0}], version="")
    req.outputs.append("prediction")
    r = stub.PredictBatch(req, timeout=10)
    assert r.version == "2" and list(r.results[0].outputs) == ["prediction"]
    assert r.results[0].outputs["prediction"].double_value == pytest.approx(v2_expected(1.0, 1.0))


def test_batch_limits(stub):
    err = error_of(stub.PredictBatch, batch([{"a": 1.0, "b": 1.0}] * 5001), timeout=10)
    assert err.code() == grpc.StatusCode.RESOURCE_EXHAUSTED and "5000" in err.details()
    assert stub.PredictBatch(batch([]), timeout=10).ok_count == 0


# --- PredictStream ---------------------------------------------------------------------------------

def test_stream_keeps_going_after_errors(stub):
    reqs = [request(version="1", a=1.0, b=1.0), request(a="x", b=1.0), request(model="nope"),
            request(version="1", a=2.0, b=2.0)]
    for i, r in enumerate(reqs):
        r.request_id = f"s-{i}"
    responses = list(stub.PredictStream(iter(reqs), timeout=10))
    assert [r.request_id for r in responses] == ["s-0", "s-1", "s-2", "s-3"]
    assert responses[0].status.code == 0 and responses[3].status.code == 0
    assert responses[3].outputs["prediction"].double_value == pytest.approx(v1_expected(2.0, 2.0))
    assert responses[1].status.code == INVALID.value[0] and responses[1].status.field == "a"
    assert responses[2].status.code == grpc.StatusCode.NOT_FOUND.value[0]
    assert not responses[1].outputs


def test_stream_many_messages(stub):
    reqs = (request(version="1", a=float(i), b=0.0) for i in range(300))
    out = [r.outputs["prediction"].double_value for r in stub.PredictStream(reqs, timeout=30)]
    assert out == pytest.approx([v1_expected(float(i), 0.0) for i in range(300)])


# --- metadata ----------------------------------------------------------------------------------------

def test_model_metadata(stub):
    m = stub.GetModelMetadata(pb.GetModelMetadataRequest(model="lr"), timeout=10)
    assert m.model == "lr" and m.version == "2" and m.default_version == "2"
    assert [(f.name, f.type, f.kind, f.base) for f in m.inputs] == [("a", "double", "scalar", "double"),
                                                                    ("b", "double", "scalar", "double")]
    assert [(f.name, f.type) for f in m.outputs] == [("features", "vector[2]"), ("prediction", "double")]
    assert m.outputs[0].HasField("size") and m.outputs[0].size == 2
    assert [s.op for s in m.stages] == ["vector_assembler", "linear_regression"]
    assert list(m.stages[0].inputs) == ["a", "b"] and list(m.stages[1].outputs) == ["prediction"]
    assert [(v.version, v.state, v.is_default) for v in m.versions] == [("1", pb.READY, False), ("2", pb.READY, True)]
    assert m.bundle.format == "protobuf" and m.bundle.path.endswith("lr_v2.zip") and m.bundle.uid
    m1 = stub.GetModelMetadata(pb.GetModelMetadataRequest(model="lr", version="1"), timeout=10)
    assert m1.version == "1" and m1.bundle.format == "json"
    assert error_of(stub.GetModelMetadata, pb.GetModelMetadataRequest(model="x"), timeout=10).code() == \
        grpc.StatusCode.NOT_FOUND
    assert error_of(stub.GetModelMetadata, pb.GetModelMetadataRequest(model="lr", version="9"),
                    timeout=10).code() == grpc.StatusCode.NOT_FOUND


def test_list_models(stub):
    r = stub.ListModels(pb.ListModelsRequest(), timeout=10)
    models = {m.name: m for m in r.models}
    assert set(models) == {"lr", "vec", "lrdir"}
    assert models["lr"].default_version == "2" and [v.version for v in models["lr"].versions] == ["1", "2"]
    assert all(v.state == pb.READY and v.generation == 1 and v.loaded_at_ms > 0
               for m in r.models for v in m.versions)


def test_nan_and_infinity_pass_through(stub):
    req = pb.PredictRequest(model="vec")
    req.inputs["features"].vector_value.values.extend([math.inf, 0.0])
    r = stub.Predict(req, timeout=10)
    assert math.isinf(r.outputs["prediction"].double_value)
