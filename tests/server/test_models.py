"""Real pipelines through the server: MLeap's airbnb fixtures (random forest, linear regression),
a classifier with probability outputs and rows Spark drops. The server must answer exactly what
the runtime answers in process (the runtime's parity with Spark is tested in tests/runtime)."""

from __future__ import annotations

import math

import grpc
import numpy as np
import pytest

from leapserve.v1 import prediction_pb2 as pb
from leapserve.v1 import prediction_pb2_grpc as pb_grpc
from tests.support.bundles import FIXTURES, LR_ZIP, RF_ZIP, airbnb_record, has_ops

tritonclient_grpc = pytest.importorskip("tritonclient.grpc")
from tritonclient.utils import InferenceServerException  # noqa: E402

AIRBNB_OPS = ("string_indexer", "one_hot_encoder", "standard_scaler", "vector_assembler", "linear_regression",
              "random_forest_regression", "decision_tree_regression")


def fill(fields, record):
    for k, v in record.items():
        if isinstance(v, str):
            fields[k].string_value = v
        elif v is None:
            fields[k].null_value = 0
        else:
            fields[k].double_value = float(v)


def same(value_msg, expected) -> bool:
    kind = value_msg.WhichOneof("kind")
    if kind == "vector_value":
        vec = value_msg.vector_value
        dense = np.zeros(vec.size) if vec.indices or (vec.size and not vec.values) else np.array(vec.values)
        if vec.indices:
            dense[list(vec.indices)] = list(vec.values)
        exp = expected.toarray() if hasattr(expected, "toarray") else np.asarray(expected, dtype=float)
        return np.array_equal(dense, exp)
    return getattr(value_msg, kind) == expected


@pytest.fixture(scope="module")
def airbnb_server(start_module_server):
    if not has_ops(*AIRBNB_OPS):
        pytest.skip(f"the runtime lacks some of {AIRBNB_OPS}")
    return start_module_server("--model", f"airbnb_rf={RF_ZIP}",
                               "--model", f"airbnb_lr={LR_ZIP}")


@pytest.mark.parametrize("model", ["airbnb_rf", "airbnb_lr"])
def test_airbnb_predict_matches_the_runtime(airbnb_server, model):
    from leapserve.runtime import load_bundle

    record = airbnb_record()
    expected = load_bundle(str(FIXTURES / f"{model.replace('_', '.model.')}.zip")).transform(record)
    stub = pb_grpc.PredictionServiceStub(airbnb_server.open_channel())
    req = pb.PredictRequest(model=model)
    fill(req.inputs, record)
    r = stub.Predict(req, timeout=10)
    assert set(r.outputs) == set(expected)
    for name, value in expected.items():
        assert same(r.outputs[name], value), name

    # the same record many times in a batch, with one unseen state (handle_invalid "error")
    breq = pb.PredictBatchRequest(model=model, outputs=["price_prediction"])
    for i in range(20):
        rec = dict(record, bathrooms=float(i % 4))
        if i == 7:
            rec["state"] = "Atlantis"
        fill(breq.records.add().fields, rec)
    br = stub.PredictBatch(breq, timeout=10)
    assert br.invalid_count == 1 and br.results[7].outcome == pb.RowResult.INVALID
    st = br.results[7].status
    assert st.field == "state" and "Atlantis" in st.actual and "labels" in st.expected
    pipeline = load_bundle(str(FIXTURES / f"{model.replace('_', '.model.')}.zip"))
    for i, row in enumerate(br.results):
        if i != 7:
            want = pipeline.transform(dict(record, bathrooms=float(i % 4)))["price_prediction"]
            assert row.outputs["price_prediction"].double_value == pytest.approx(want, abs=1e-9)


def test_airbnb_unseen_label_is_invalid_argument(airbnb_server):
    stub = pb_grpc.PredictionServiceStub(airbnb_server.open_channel())
    req = pb.PredictRequest(model="airbnb_rf")
    fill(req.inputs, dict(airbnb_record(), state="Atlantis"))
    with pytest.raises(grpc.RpcError) as info:
        stub.Predict(req, timeout=10)
    err = info.value
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "'state'" in err.details() and "Atlantis" in err.details() and "labels" in err.details()


def test_airbnb_oip_with_strings(airbnb_server):
    from leapserve.runtime import load_bundle

    record = airbnb_record()
    n = 5
    client = tritonclient_grpc.InferenceServerClient(url=airbnb_server.address)
    md = client.get_model_metadata("airbnb_rf")
    inputs = []
    for t in md.inputs:
        if t.datatype == "BYTES":
            arr = np.array([record[t.name].encode()] * n, dtype=np.object_)
        else:
            arr = np.full(n, float(record[t.name]))
        inp = tritonclient_grpc.InferInput(t.name, [n], t.datatype)
        inp.set_data_from_numpy(arr)
        inputs.append(inp)
    result = client.infer("airbnb_rf", inputs)
    want = load_bundle(str(RF_ZIP)).transform(record)
    np.testing.assert_allclose(result.as_numpy("price_prediction"), [want["price_prediction"]] * n, atol=1e-9)
    np.testing.assert_array_equal(result.as_numpy("state_index"), [want["state_index"]] * n)
    client.close()


@pytest.fixture(scope="module")
def clf_server(start_module_server, clf_bundle):
    return start_module_server("--model", f"clf={clf_bundle}")


def test_classifier_outputs_and_skipped_rows(clf_server, clf_bundle):
    from leapserve.runtime import RowSkipped, load_bundle

    pipeline = load_bundle(str(clf_bundle))
    stub = pb_grpc.PredictionServiceStub(clf_server.open_channel())
    records = [{"color": "red", "x": 0.2}, {"color": "purple", "x": 1.0}, {"color": "green", "x": 2.2},
               {"color": None, "x": 1.0}, {"color": "blue", "x": "2.0"}]
    req = pb.PredictRequest(model="clf")
    fill(req.inputs, records[0])
    r = stub.Predict(req, timeout=10)
    want = pipeline.transform(records[0])
    assert r.outputs["answer"].string_value == want["answer"] in ("no", "yes")
    prob = r.outputs["probability"].vector_value
    assert prob.size == 2 and math.isclose(sum(prob.values), 1.0)
    assert list(prob.values) == pytest.approx(list(want["probability"]), abs=0)

    req = pb.PredictRequest(model="clf")
    fill(req.inputs, records[1])
    with pytest.raises(grpc.RpcError) as info:
        stub.Predict(req, timeout=10)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "skip" in info.value.details()

    breq = pb.PredictBatchRequest(model="clf")
    for rec in records:
        fields = breq.records.add().fields
        for k, v in rec.items():
            if v is None:
                fields[k].null_value = 0
            elif isinstance(v, str):
                fields[k].string_value = v
            else:
                fields[k].double_value = v
    br = stub.PredictBatch(breq, timeout=10)
    outcomes = [x.outcome for x in br.results]
    assert outcomes[1] == pb.RowResult.SKIPPED and outcomes[0] == outcomes[2] == outcomes[4] == pb.RowResult.OK
    assert br.skipped_count >= 1 and br.results[1].status.message
    for i in (0, 2, 4):
        rec = dict(records[i], x=float(records[i]["x"]))
        assert br.results[i].outputs["answer"].string_value == pipeline.transform(rec)["answer"]
        assert list(br.results[i].outputs["probability"].vector_value.values) == pytest.approx(
            list(pipeline.transform(rec)["probability"]), abs=1e-12)
    # a null color: Spark's StringIndexer with "skip" drops null rows too
    with pytest.raises(RowSkipped):
        pipeline.transform(records[3])
    assert outcomes[3] == pb.RowResult.SKIPPED and br.results[3].status.message

    client = tritonclient_grpc.InferenceServerClient(url=clf_server.address)
    colors = tritonclient_grpc.InferInput("color", [3], "BYTES")
    colors.set_data_from_numpy(np.array([b"red", b"purple", b"green"], dtype=np.object_))
    xs = tritonclient_grpc.InferInput("x", [3, 1], "FP64")
    xs.set_data_from_numpy(np.array([[0.2], [1.0], [2.2]]))
    result = client.infer("clf", [colors, xs])
    assert result.get_response().parameters["skipped_rows"].string_param == "1"
    answers = result.as_numpy("answer")
    assert answers[0].decode() == pipeline.transform(records[0])["answer"] and answers[1] == b""
    assert result.as_numpy("probability").shape == (3, 2) and np.isnan(result.as_numpy("probability")[1]).all()
    with pytest.raises(InferenceServerException):
        client.infer("clf", [colors])
    client.close()
