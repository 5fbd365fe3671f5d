"""ml.combust.mleap.pb.Mleap, MLeap's gRPC API, on a real server on loopback.

The stubs are generated from protos/leapserve/mleap/mleap.proto at test time (into a temporary
folder, under another file name), never taken from leapserve.mleap: that module and these stubs
hold the same message names and cannot both live in this process. Frames are written and read by
tests/support/mleap_frames.py (struct and json), not by the server's codec. Answers are compared
with leapserve.v1's Predict on the same server.
"""

from __future__ import annotations

import json

import grpc
import pytest

from leapserve.v1 import prediction_pb2 as v1
from tests.support import mleap_frames as mf
from tests.support import mleap_stubs
from tests.support.bundles import FRAME, LR_ZIP, RF_ZIP, airbnb_record, copy_bundle
from tests.support.metrics_text import samples, scrape, value
from tests.support.servers import free_port, predict_request, prediction_stub

TOKEN = "mleap-secret"
SERVICE = "ml.combust.mleap.pb.Mleap"
AIRBNB = json.loads(FRAME.read_bytes())
AIRBNB_FIELDS = [(f["name"], f["type"]) for f in AIRBNB["schema"]["fields"]]


@pytest.fixture(scope="module")
def wire(tmp_path_factory):
    """The message and stub modules protoc makes of the service's .proto, as a client would."""
    return mleap_stubs.generate(tmp_path_factory.mktemp("mleap_stubs"))


@pytest.fixture(scope="module")
def penguins(spark, tmp_path_factory):
    """The penguins example (fitted by Spark, exported with MLeap's serializer) and a few records."""
    from leapserve import bundler
    from leapserve.bundler.examples import penguins_species

    model, data = penguins_species.train(spark)
    path = tmp_path_factory.mktemp("penguins") / "penguins.zip"
    bundler.export_bundle(model, data, path, format="json")
    columns = ["island", "sex", "bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]
    records = [r.asDict() for r in data.select(*columns).dropna(subset=columns[2:]).limit(6).collect()]
    records[1]["sex"] = None  # a null the pipeline takes (handle_invalid "keep")
    return path, records


@pytest.fixture(scope="module")
def admin_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mleap_admin")
    copy_bundle(LR_ZIP, folder / "lr.zip")
    return folder


@pytest.fixture(scope="module")
def server(start_module_server, penguins, admin_dir):
    metrics_port = free_port()
    s = start_module_server("--model", f"rf={RF_ZIP}", "--model", f"lr={LR_ZIP}", "--model", f"penguins={penguins[0]}",
                            "--admin", "--admin-path", admin_dir, "--metrics-port", metrics_port,
                            "--max-batch-rows", "100", "--reload-interval", "0", env={"LEAPSERVE_ADMIN_TOKEN": TOKEN})
    s.metrics_port = metrics_port
    return s


@pytest.fixture(scope="module")
def stub(server, wire):
    return wire.grpc.MleapStub(server.open_channel())


def frame_of(fmt, fields, rows) -> bytes:
    return mf.json_frame(fields, rows) if fmt == mf.JSON else mf.binary_frame(fields, rows)


def read_frame(fmt, data):
    return mf.read_json_frame(data) if fmt == mf.JSON else mf.read_binary_frame(data)


def transform(wire, stub, model, fmt, fields, rows, select=None, mode=0):
    request = wire.pb.TransformFrameRequest(model_name=model, format=fmt, frame=frame_of(fmt, fields, rows))
    if select is not None:
        request.options.select.extend(select)
        request.options.select_mode = mode
    return stub.Transform(request, timeout=30)


def predicted(server, model, record) -> dict:
    r = prediction_stub(server.open_channel()).Predict(predict_request(model, record), timeout=30)
    out = {}
    for name, v in r.outputs.items():
        kind = v.WhichOneof("kind")
        if kind == "vector_value":
            vec = v.vector_value
            values = list(vec.values)
            if vec.indices or vec.size != len(values):  # sparse (dense ones hold every value)
                values = [0.0] * vec.size
                for i, x in zip(vec.indices, vec.values):
                    values[i] = x
            out[name] = values
        else:
            out[name] = getattr(v, kind)
    return out


def dense(v):
    """A tensor value as its dense values (sparse ones spread out)."""
    if v is None or "indices" not in v:
        return None if v is None else v["values"]
    out = [0.0] * v["dimensions"][0]
    for (i,), x in zip(v["indices"], v["values"]):
        out[i] = x
    return out


def airbnb_rows():
    rows = [list(AIRBNB["rows"][0]) for _ in range(3)]
    rows[1][1], rows[1][0], rows[2][3], rows[2][9] = 1.0, "CA", 5.0, "Private room"
    return rows


# --- Transform -------------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", [mf.JSON, mf.BINARY])
@pytest.mark.parametrize("model", ["rf", "lr"])
def test_airbnb_frames_match_predict(wire, stub, server, model, fmt):
    rows = airbnb_rows()
    r = transform(wire, stub, model, fmt, AIRBNB_FIELDS, rows)
    assert r.status == wire.pb.STATUS_OK and not r.error and r.format == fmt
    fields, got = read_frame(fmt, r.frame)
    names = [n for n, _ in fields]
    meta = stub.GetBundleMeta(wire.pb.GetBundleMetaRequest(model_name=model), timeout=30)
    # the whole frame: its fields as sent, then every stage's output
    assert names == [n for n, _ in AIRBNB_FIELDS] + [f.name for f in meta.output_schema.fields]
    for row, answer in zip(rows, got):
        assert answer[:len(row)] == row
        expected = predicted(server, model, dict(zip(names, row)))
        for name, value in zip(names[len(row):], answer[len(row):]):
            assert (dense(value) if isinstance(value, dict) else value) == pytest.approx(expected[name]), name


def test_the_airbnb_fixture_as_it_is(wire, stub, server):
    r = stub.Transform(wire.pb.TransformFrameRequest(model_name="rf", format=mf.JSON, frame=FRAME.read_bytes()),
                       timeout=30)
    fields, rows = mf.read_json_frame(r.frame)
    price = rows[0][[n for n, _ in fields].index("price_prediction")]
    assert price == pytest.approx(predicted(server, "rf", airbnb_record())["price_prediction"])


@pytest.mark.parametrize("fmt", [mf.JSON, mf.BINARY])
def test_penguins_match_predict_and_spark(wire, stub, server, penguins, spark, fmt):
    _, records = penguins
    fields = [("island", "string"), ("sex", "string"), ("bill_length_mm", "double"), ("bill_depth_mm", "double"),
              ("flipper_length_mm", "double"), ("body_mass_g", "double")]
    rows = [[rec[n] for n, _ in fields] for rec in records]
    wanted = ["predicted_species", "probability", "prediction"]
    r = transform(wire, stub, "penguins", fmt, fields, rows, select=wanted)
    assert r.status == wire.pb.STATUS_OK, r.error
    out_fields, got = read_frame(fmt, r.frame)
    assert [n for n, _ in out_fields] == wanted
    for rec, (species, probability, prediction) in zip(records, got):
        expected = predicted(server, "penguins", rec)
        assert species == expected["predicted_species"] and prediction == expected["prediction"]
        assert dense(probability) == pytest.approx(expected["probability"], abs=1e-12)


def test_select_strict_relaxed_and_no_options(wire, stub):
    rows = airbnb_rows()[:1]
    r = transform(wire, stub, "rf", mf.BINARY, AIRBNB_FIELDS, rows, select=["price_prediction", "state", "nope"],
                  mode=wire.pb.SELECT_MODE_RELAXED)
    fields, got = mf.read_binary_frame(r.frame)
    assert [n for n, _ in fields] == ["price_prediction", "state"] and got[0][1] == "NY"
    for mode in (wire.pb.SELECT_MODE_STRICT, wire.pb.SELECT_MODE_UNKNOWN):
        r = transform(wire, stub, "rf", mf.BINARY, AIRBNB_FIELDS, rows, select=["price_prediction", "nope"], mode=mode)
        assert r.status == wire.pb.STATUS_ERROR and not r.frame
        assert "field 'nope'" in r.error and "invalid field(s) 'nope'" in r.error
    # options present but empty: the whole frame, as without options
    request = wire.pb.TransformFrameRequest(model_name="rf", format=mf.JSON, frame=frame_of(mf.JSON, AIRBNB_FIELDS, rows))
    request.options.SetInParent()
    assert len(mf.read_json_frame(stub.Transform(request, timeout=30).frame)[0]) > len(AIRBNB_FIELDS)


def test_failed_transforms_answer_status_error(wire, stub):
    def error(fmt, frame, model="rf"):
        r = stub.Transform(wire.pb.TransformFrameRequest(model_name=model, format=fmt, frame=frame), timeout=30)
        assert r.status == wire.pb.STATUS_ERROR and not r.frame
        return r.error

    assert "malformed JSON" in error(mf.JSON, b'{"schema": ')
    assert "field 'format'" in error("text/csv", FRAME.read_bytes())
    assert "field 'format'" in error("", FRAME.read_bytes())
    wrong = [list(AIRBNB["rows"][0])]
    wrong[0][1] = "two"
    message = error(mf.JSON, mf.json_frame(AIRBNB_FIELDS, wrong))
    assert message.startswith("row 0, field 'bathrooms': expected double") and "got str 'two'" in message
    message = error(mf.BINARY, mf.binary_frame(AIRBNB_FIELDS, airbnb_rows())[:-4])
    assert "row 2, field 'instant_bookable'" in message and "the frame ends" in message
    # a missing input: the whole frame fails (STRICT or not, an input is needed to score)
    message = error(mf.JSON, mf.json_frame(AIRBNB_FIELDS[1:], [r[1:] for r in airbnb_rows()]))
    assert "field 'state'" in message
    # a value the pipeline refuses, in the frame's right type
    bad = airbnb_rows()
    bad[2][10] = "maybe"  # host_is_superhost, string-indexed without "keep"
    assert "row 2" in error(mf.JSON, mf.json_frame(AIRBNB_FIELDS, bad)) and "host_is_superhost" in error(
        mf.JSON, mf.json_frame(AIRBNB_FIELDS, bad))
    # more rows than --max-batch-rows
    assert "at most 100 rows" in error(mf.BINARY, mf.binary_frame(AIRBNB_FIELDS, airbnb_rows() * 40))


def test_unknown_model_is_not_found(wire, stub):
    with pytest.raises(grpc.RpcError) as info:
        stub.Transform(wire.pb.TransformFrameRequest(model_name="rff", format=mf.JSON, frame=FRAME.read_bytes()),
                       timeout=30)
    assert info.value.code() == grpc.StatusCode.NOT_FOUND and "did you mean 'rf'?" in info.value.details()
    for rpc, request in ((stub.GetBundleMeta, wire.pb.GetBundleMetaRequest(model_name="rff")),
                         (stub.GetModel, wire.pb.GetModelRequest(model_name="rff")),
                         (stub.CreateFrameStream, wire.pb.CreateFrameStreamRequest(model_name="rff", stream_name="s"))):
        with pytest.raises(grpc.RpcError) as info:
            rpc(request, timeout=30)
        assert info.value.code() == grpc.StatusCode.NOT_FOUND, rpc


# --- metadata ----------------------------------------------------------------------------------

def test_bundle_meta_and_model(wire, stub, server):
    meta = stub.GetBundleMeta(wire.pb.GetBundleMetaRequest(model_name="penguins"), timeout=30)
    md = prediction_stub(server.open_channel()).GetModelMetadata(v1.GetModelMetadataRequest(model="penguins"),
                                                                  timeout=30)
    assert [f.name for f in meta.input_schema.fields] == [f.name for f in md.inputs]
    assert [f.name for f in meta.output_schema.fields] == [f.name for f in md.outputs]
    inputs = {f.name: f.data_type for f in meta.input_schema.fields}
    assert inputs["island"].base == 100 and inputs["bill_length_mm"].base == 7  # STRING, DOUBLE
    outputs = {f.name: f.data_type for f in meta.output_schema.fields}
    assert outputs["probability"].shape.base == 2 and outputs["probability"].shape.tensor_shape.dimensions[0].size == 3
    assert meta.bundle.name == md.bundle.name and meta.bundle.uid == md.bundle.uid
    model = stub.GetModel(wire.pb.GetModelRequest(model_name="rf"), timeout=30)
    assert model.name == "rf" and model.uri == "airbnb.model.rf.zip"


# --- streams -----------------------------------------------------------------------------------

def test_frame_stream(wire, stub):
    pb = wire.pb
    created = stub.CreateFrameStream(pb.CreateFrameStreamRequest(model_name="rf", stream_name="frames"), timeout=30)
    assert (created.model_name, created.stream_name) == ("rf", "frames")
    assert stub.GetFrameStream(pb.GetFrameStreamRequest(model_name="rf", stream_name="frames"), timeout=30) == created
    with pytest.raises(grpc.RpcError) as info:
        stub.CreateFrameStream(pb.CreateFrameStreamRequest(model_name="rf", stream_name="frames"), timeout=30)
    assert info.value.code() == grpc.StatusCode.ALREADY_EXISTS
    with pytest.raises(grpc.RpcError) as info:
        stub.GetFrameStream(pb.GetFrameStreamRequest(model_name="rf", stream_name="other"), timeout=30)
    assert info.value.code() == grpc.StatusCode.NOT_FOUND and "rf/other" in info.value.details()

    good = frame_of(mf.BINARY, AIRBNB_FIELDS, airbnb_rows())
    select = pb.TransformOptions(select=["price_prediction"])
    requests = [pb.TransformFrameRequest(model_name="rf", stream_name="frames", format=mf.BINARY, options=select),
                pb.TransformFrameRequest(tag=7, frame=good),
                pb.TransformFrameRequest(tag=8, frame=b"\x00\x00"),
                pb.TransformFrameRequest(tag=9, frame=good, options=pb.TransformOptions(select=["state"]))]
    answers = list(stub.TransformFrameStream(iter(requests), timeout=30))
    assert [a.tag for a in answers] == [7, 8, 9]
    assert [a.status for a in answers] == [pb.STATUS_OK, pb.STATUS_ERROR, pb.STATUS_OK]
    assert "field 'frame'" in answers[1].error
    prices = [row[0] for row in mf.read_binary_frame(answers[0].frame)[1]]
    assert prices == [row[0] for row in mf.read_binary_frame(
        transform(wire, stub, "rf", mf.BINARY, AIRBNB_FIELDS, airbnb_rows(), ["price_prediction"]).frame)[1]]
    assert mf.read_binary_frame(answers[2].frame)[1] == [["NY"], ["CA"], ["NY"]]

    with pytest.raises(grpc.RpcError) as info:
        list(stub.TransformFrameStream(iter([pb.TransformFrameRequest(model_name="rf", stream_name="missing")]),
                                       timeout=30))
    assert info.value.code() == grpc.StatusCode.NOT_FOUND and "rf/missing" in info.value.details()


def mleap_type(field) -> object:
    """A Bundle.ML schema field's type as MLeap's JSON names it (for the tests' frame reader)."""
    bases = {1: "boolean", 4: "int", 5: "long", 6: "float", 7: "double", 100: "string"}
    base = bases[field.data_type.base]
    shape = field.data_type.shape
    kind = {0: "basic", 1: "list", 2: "tensor"}[shape.base]
    return {"type": kind, "base": base, "isNullable": shape.is_nullable}


def test_row_stream(wire, stub, server):
    pb = wire.pb
    spec = pb.RowStreamSpec(format=mf.BINARY, options=pb.TransformOptions(select=["state", "price_prediction"]))
    bases = {"string": 100, "double": 7}
    for name, t in AIRBNB_FIELDS:
        f = spec.schema.fields.add(name=name)
        f.data_type.base = bases[t]
        f.data_type.shape.is_nullable = True
    created = stub.CreateRowStream(pb.CreateRowStreamRequest(model_name="lr", stream_name="rows", spec=spec), timeout=30)
    assert [f.name for f in created.output_schema.fields] == ["state", "price_prediction"]
    assert stub.GetRowStream(pb.GetRowStreamRequest(model_name="lr", stream_name="rows"), timeout=30) == created
    out_fields = [(f.name, mleap_type(f)) for f in created.output_schema.fields]
    in_fields = [(n, t) for n, t in AIRBNB_FIELDS]

    rows = airbnb_rows()
    requests = [pb.TransformRowRequest(model_name="lr", stream_name="rows", format=mf.BINARY,
                                       input_schema=spec.schema, output_schema=created.output_schema)]
    requests += [pb.TransformRowRequest(tag=i + 1, row=mf.binary_row(in_fields, row)) for i, row in enumerate(rows)]
    requests.append(pb.TransformRowRequest(tag=99, row=b"\x01"))
    answers = list(stub.TransformRowStream(iter(requests), timeout=30))
    assert [a.tag for a in answers] == [1, 2, 3, 99]
    for row, answer in zip(rows, answers):
        state, price = mf.read_binary_row(out_fields, answer.row)
        assert state == row[0]
        assert price == pytest.approx(predicted(server, "lr", dict(zip([n for n, _ in in_fields], row)))["price_prediction"])
    assert answers[3].status == pb.STATUS_ERROR and "field 'state'" in answers[3].error

    def refused(**kw):
        request = pb.CreateRowStreamRequest(model_name="lr", stream_name="bad", **kw)
        with pytest.raises(grpc.RpcError) as info:
            stub.CreateRowStream(request, timeout=30)
        return info.value

    e = refused(spec=pb.RowStreamSpec(format=mf.BINARY, schema=spec.schema,
                                      options=pb.TransformOptions(select=["nope"], select_mode=pb.SELECT_MODE_STRICT)))
    assert e.code() == grpc.StatusCode.FAILED_PRECONDITION and "'nope'" in e.details()
    short = pb.RowStreamSpec(format=mf.BINARY)
    short.schema.fields.extend(spec.schema.fields[1:])
    e = refused(spec=short)
    assert e.code() == grpc.StatusCode.FAILED_PRECONDITION and "'state'" in e.details()
    e = refused(spec=pb.RowStreamSpec(format="xml", schema=spec.schema))
    assert e.code() == grpc.StatusCode.FAILED_PRECONDITION and "field 'format'" in e.details()
    with pytest.raises(grpc.RpcError) as info:
        list(stub.TransformRowStream(iter([pb.TransformRowRequest(model_name="lr", stream_name="nope")]), timeout=30))
    assert info.value.code() == grpc.StatusCode.NOT_FOUND
    mismatched = pb.TransformRowRequest(model_name="lr", stream_name="rows", input_schema=short.schema)
    with pytest.raises(grpc.RpcError) as info:
        list(stub.TransformRowStream(iter([mismatched]), timeout=30))
    assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION and "input_schema" in info.value.details()


# --- admin -------------------------------------------------------------------------------------

def test_load_and_unload(wire, stub, admin_dir):
    pb = wire.pb
    auth = (("authorization", f"Bearer {TOKEN}"),)

    def load_error(metadata=auth, **kw):
        with pytest.raises(grpc.RpcError) as info:
            stub.LoadModel(pb.LoadModelRequest(**kw), metadata=metadata, timeout=30)
        return info.value

    uri = (admin_dir / "lr.zip").as_uri()
    assert load_error(metadata=(), model_name="new", uri=uri).code() == grpc.StatusCode.UNAUTHENTICATED
    assert load_error(metadata=(("authorization", "Bearer wrong"),), model_name="new",
                      uri=uri).code() == grpc.StatusCode.UNAUTHENTICATED
    e = load_error(model_name="new", uri="s3://bucket/lr.zip")
    assert e.code() == grpc.StatusCode.INVALID_ARGUMENT and "'s3://bucket/lr.zip'" in e.details()
    assert "scheme 's3'" in e.details()
    assert load_error(model_name="new", uri=str(RF_ZIP)).code() == grpc.StatusCode.PERMISSION_DENIED
    # what percent-decoding makes is checked as a path is: no NUL or other control character
    for encoded in ("%00", "%0A"):
        e = load_error(model_name="new", uri=uri.replace("lr.zip", f"l{encoded}r.zip"))
        assert e.code() == grpc.StatusCode.INVALID_ARGUMENT and "control characters" in e.details(), encoded
    for odd in ("file://[x/lr.zip", uri + "?version=2", uri + "#lr"):
        e = load_error(model_name="new", uri=odd)
        assert e.code() == grpc.StatusCode.INVALID_ARGUMENT and repr(odd) in e.details(), odd
    model = stub.LoadModel(pb.LoadModelRequest(model_name="new", uri=uri), metadata=auth, timeout=60)
    assert (model.name, model.uri) == ("new", uri)
    r = transform(wire, stub, "new", mf.JSON, AIRBNB_FIELDS, airbnb_rows(), ["price_prediction"])
    assert r.status == pb.STATUS_OK
    e = load_error(model_name="new", uri=str(admin_dir / "lr.zip"))
    assert e.code() == grpc.StatusCode.ALREADY_EXISTS
    again = stub.LoadModel(pb.LoadModelRequest(model_name="new", uri=str(admin_dir / "lr.zip"), force=True),
                           metadata=auth, timeout=60)
    assert again.uri == str(admin_dir / "lr.zip")
    with pytest.raises(grpc.RpcError) as info:
        stub.UnloadModel(pb.UnloadModelRequest(model_name="new"), timeout=30)
    assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
    gone = stub.UnloadModel(pb.UnloadModelRequest(model_name="new"), metadata=auth, timeout=30)
    assert gone.name == "new"
    with pytest.raises(grpc.RpcError) as info:
        stub.GetModel(pb.GetModelRequest(model_name="new"), timeout=30)
    assert info.value.code() == grpc.StatusCode.NOT_FOUND


def test_admin_is_off_by_default(start_server, wire):
    server = start_server("--model", f"rf={RF_ZIP}", "--reload-interval", "0")
    stub = wire.grpc.MleapStub(server.open_channel())
    with pytest.raises(grpc.RpcError) as info:
        stub.LoadModel(wire.pb.LoadModelRequest(model_name="x", uri=str(LR_ZIP)), timeout=30)
    assert info.value.code() == grpc.StatusCode.UNIMPLEMENTED and "--admin" in info.value.details()
    with pytest.raises(grpc.RpcError) as info:
        stub.UnloadModel(wire.pb.UnloadModelRequest(model_name="rf"), timeout=30)
    assert info.value.code() == grpc.StatusCode.UNIMPLEMENTED
    server.wait_health("SERVING", SERVICE, timeout=10)


# --- around the service ------------------------------------------------------------------------

def test_health_reflection_and_metrics(wire, stub, server):
    from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase

    server.wait_health("SERVING", SERVICE, timeout=10)
    db = ProtoReflectionDescriptorDatabase(server.open_channel())
    assert SERVICE in set(db.get_services())
    before = samples(scrape(server.metrics_port))
    transform(wire, stub, "rf", mf.JSON, AIRBNB_FIELDS, airbnb_rows())
    bad = stub.Transform(wire.pb.TransformFrameRequest(model_name="rf", format=mf.JSON, frame=b"[]"), timeout=30)
    assert bad.status == wire.pb.STATUS_ERROR
    # a frame stream answers every frame with its first message's model, and is labelled so
    frame = frame_of(mf.JSON, AIRBNB_FIELDS, airbnb_rows()[:1])
    answers = list(stub.TransformFrameStream(iter([
        wire.pb.TransformFrameRequest(model_name="rf", format=mf.JSON, frame=frame),
        wire.pb.TransformFrameRequest(model_name="lr", frame=frame)]), timeout=30))
    assert [a.status for a in answers] == [wire.pb.STATUS_OK] * 2
    # a PredictStream message is labelled with its own model, not the one before it
    streamed = list(prediction_stub(server.open_channel()).PredictStream(iter([
        predict_request("rf", airbnb_record()), predict_request("", airbnb_record())]), timeout=30))
    assert [bool(r.status.code) for r in streamed] == [False, True]
    after = samples(scrape(server.metrics_port))

    def added(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert added("leapserve_requests_total", rpc="Transform", model="rf", code="OK") == 1
    assert added("leapserve_requests_total", rpc="Transform", model="rf", code="INVALID_ARGUMENT") == 1
    assert added("leapserve_rows_total", rpc="Transform", model="rf", outcome="ok") == 3
    assert added("leapserve_requests_total", rpc="TransformFrameStream", model="rf", code="OK") == 2
    assert added("leapserve_requests_total", rpc="TransformFrameStream", model="lr") == 0
    assert added("leapserve_requests_total", rpc="PredictStream", model="rf", code="OK") == 1
    assert added("leapserve_requests_total", rpc="PredictStream", model="rf") == 1
