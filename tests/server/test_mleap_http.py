"""MLeap Spring Boot's endpoints on the HTTP port (--http-port), on a real server on loopback.

Frames are written and read by tests/support/mleap_frames.py (struct and json), not the server's
codec; protobuf answers are parsed with stubs protoc makes of the .proto at test time (the ``wire``
fixture of test_mleap_grpc.py), never with leapserve.mleap. Answers are compared with leapserve.v1's
Predict on the same server, and with MLeap's gRPC Transform.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import urllib.error
import urllib.request

import pytest

from tests.server.test_mleap_grpc import (AIRBNB, AIRBNB_FIELDS, admin_dir, airbnb_rows, dense, penguins,  # noqa: F401
                                          predicted, wire)
from tests.support import mleap_frames as mf
from tests.support.bundles import FRAME, LR_ZIP, RF_ZIP, airbnb_record
from tests.support.metrics_text import samples, scrape, value
from tests.support.servers import free_port

TOKEN = "mleap-http-secret"
JSON_TYPE, PROTOBUF_TYPE = "application/json", "application/x-protobuf"
PENGUIN_FIELDS = [("island", "string"), ("sex", "string"), ("bill_length_mm", "double"), ("bill_depth_mm", "double"),
                  ("flipper_length_mm", "double"), ("body_mass_g", "double")]


@pytest.fixture(scope="module")
def server(start_module_server, penguins, admin_dir):  # noqa: F811
    http_port, metrics_port = free_port(), free_port()
    s = start_module_server("--model", f"rf={RF_ZIP}", "--model", f"lr={LR_ZIP}", "--model", f"penguins={penguins[0]}",
                            "--admin", "--admin-path", admin_dir, "--http-port", http_port, "--max-batch-rows", "100",
                            "--metrics-port", metrics_port,
                            "--reload-interval", "0", env={"LEAPSERVE_ADMIN_TOKEN": TOKEN})
    s.http = f"http://127.0.0.1:{http_port}"
    s.metrics_port = metrics_port
    return s


def call(server, method, path, body=None, content_type=JSON_TYPE, headers=None):
    """(status, content type, body bytes) of one request."""
    if isinstance(body, dict):
        body = json.dumps(body).encode()
    hdrs = dict(headers or {})
    if body is not None and content_type:
        hdrs["Content-Type"] = content_type
    req = urllib.request.Request(server.http + path, data=body, method=method, headers=hdrs)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.headers.get("Content-Type", ""), r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type", ""), e.read()


def frame_of(fmt, fields, rows) -> bytes:
    return mf.json_frame(fields, rows) if fmt == mf.JSON else mf.binary_frame(fields, rows)


def read_frame(fmt, data):
    return mf.read_json_frame(data) if fmt == mf.JSON else mf.read_binary_frame(data)


TYPE_OF = {mf.JSON: JSON_TYPE, mf.BINARY: PROTOBUF_TYPE}


def check_error(status, body, field):
    answer = json.loads(body)
    assert status // 100 == 4, (status, answer)
    assert answer["field"] == field and answer["expected"] and answer["actual"], answer
    return answer


# --- POST /models/{name}/transform ---------------------------------------------------------------

@pytest.mark.parametrize("fmt", [mf.JSON, mf.BINARY])
@pytest.mark.parametrize("model", ["rf", "lr"])
def test_airbnb_frames_match_predict(server, model, fmt):
    rows = airbnb_rows()
    status, ctype, body = call(server, "POST", f"/models/{model}/transform", frame_of(fmt, AIRBNB_FIELDS, rows),
                               TYPE_OF[fmt])
    assert status == 200 and ctype == TYPE_OF[fmt]
    fields, got = read_frame(fmt, body)
    names = [n for n, _ in fields]
    assert names[:len(AIRBNB_FIELDS)] == [n for n, _ in AIRBNB_FIELDS] and len(names) > len(AIRBNB_FIELDS)
    for row, answer in zip(rows, got):
        assert answer[:len(row)] == row
        expected = predicted(server, model, dict(zip(names, row)))
        for name, value in zip(names[len(row):], answer[len(row):]):
            assert (dense(value) if isinstance(value, dict) else value) == pytest.approx(expected[name]), name


def test_the_airbnb_fixture_with_curl(server):
    out = subprocess.run(["curl", "-sS", "-H", "Content-Type: application/json", "-H", "timeout: 5000",
                          "--data-binary", f"@{FRAME}", f"{server.http}/models/rf/transform"],
                         capture_output=True, timeout=60, check=True).stdout
    fields, rows = mf.read_json_frame(out)
    price = rows[0][[n for n, _ in fields].index("price_prediction")]
    assert price == pytest.approx(predicted(server, "rf", airbnb_record())["price_prediction"])


@pytest.mark.parametrize("fmt", [mf.JSON, mf.BINARY])
def test_penguins_match_predict(server, penguins, fmt):  # noqa: F811
    _, records = penguins
    rows = [[rec[n] for n, _ in PENGUIN_FIELDS] for rec in records]
    status, _, body = call(server, "POST", "/models/penguins/transform", frame_of(fmt, PENGUIN_FIELDS, rows),
                           TYPE_OF[fmt])
    assert status == 200
    fields, got = read_frame(fmt, body)
    names = [n for n, _ in fields]
    for rec, row in zip(records, got):
        expected = predicted(server, "penguins", rec)
        assert row[names.index("predicted_species")] == expected["predicted_species"]
        assert row[names.index("prediction")] == expected["prediction"]
        assert dense(row[names.index("probability")]) == pytest.approx(expected["probability"], abs=1e-12)


def test_failed_transforms_answer_200_with_an_error_transform_response(server, wire):  # noqa: F811
    wrong = [list(AIRBNB["rows"][0])]
    wrong[0][1] = "two"
    status, ctype, body = call(server, "POST", "/models/rf/transform", mf.json_frame(AIRBNB_FIELDS, wrong))
    assert status == 200 and ctype == JSON_TYPE
    answer = json.loads(body)
    assert answer["status"] == "STATUS_ERROR" and answer["backtrace"]
    assert answer["error"].startswith("row 0, field 'bathrooms': expected double") and "got str 'two'" in answer["error"]
    assert "malformed JSON" in json.loads(call(server, "POST", "/models/rf/transform", b'{"schema": ')[2])["error"]
    # binary: a protobuf ErrorTransformResponse
    status, ctype, body = call(server, "POST", "/models/rf/transform",
                               mf.binary_frame(AIRBNB_FIELDS, airbnb_rows())[:-4], PROTOBUF_TYPE)
    assert status == 200 and ctype == PROTOBUF_TYPE
    error = wire.pb.ErrorTransformResponse.FromString(body)
    assert error.status == wire.pb.STATUS_ERROR and "row 2, field 'instant_bookable'" in error.error
    status, _, body = call(server, "POST", "/models/rf/transform", mf.binary_frame(AIRBNB_FIELDS, airbnb_rows() * 40),
                           PROTOBUF_TYPE)
    assert status == 200 and "at most 100 rows" in wire.pb.ErrorTransformResponse.FromString(body).error
    # counted under the failure's code, as gRPC's Transform
    m = samples(scrape(server.metrics_port))
    assert value(m, "leapserve_requests_total", rpc="http/MleapTransformFrame", model="rf",
                 code="INVALID_ARGUMENT") >= 3


def test_transform_bad_requests(server):
    frame = FRAME.read_bytes()
    status, _, body = call(server, "POST", "/models/nope/transform", frame)
    assert status == 404 and "nope" in json.loads(body)["error"]
    check_error(*call(server, "POST", "/models/rf/transform", frame, "text/csv")[::2], "header 'Content-Type'")
    check_error(*call(server, "POST", "/models/rf/transform", frame, headers={"timeout": "soon"})[::2],
                "header 'timeout'")


# --- models and meta -----------------------------------------------------------------------------

def test_bundle_meta_and_model(server, wire):  # noqa: F811
    status, ctype, body = call(server, "GET", "/models/rf/meta")
    assert status == 200 and ctype == JSON_TYPE
    meta = json.loads(body)
    assert {"bundle", "inputSchema", "outputSchema"} <= set(meta)
    assert [f["name"] for f in meta["inputSchema"]["fields"]] and meta["bundle"]["uid"]
    status, ctype, raw = call(server, "GET", "/models/rf/meta", headers={"Accept": PROTOBUF_TYPE})
    assert status == 200 and ctype == PROTOBUF_TYPE
    parsed = wire.pb.BundleMeta.FromString(raw)
    assert [f.name for f in parsed.output_schema.fields] == [f["name"] for f in meta["outputSchema"]["fields"]]
    status, _, body = call(server, "GET", "/models/rf")
    assert status == 200 and json.loads(body)["name"] == "rf" and json.loads(body)["uri"]
    assert call(server, "GET", "/models/nope")[0] == 404
    assert call(server, "GET", "/models/nope/meta")[0] == 404


def test_load_and_unload_are_the_admin_api(server, admin_dir, wire):  # noqa: F811
    auth = {"Authorization": f"Bearer {TOKEN}"}
    request = {"modelName": "loaded", "uri": f"file://{admin_dir / 'lr.zip'}"}
    assert call(server, "POST", "/models", request)[0] == 401
    assert call(server, "DELETE", "/models/lr")[0] == 401
    status, ctype, body = call(server, "POST", "/models", request, headers=auth)
    assert status == 202 and ctype == JSON_TYPE, body
    assert json.loads(body) == {"name": "loaded", "uri": request["uri"]}
    assert json.loads(call(server, "GET", "/models/loaded")[2])["uri"] == request["uri"]
    # one model table for both protocols: gRPC's GetModel shows the uri the HTTP load was given
    stub = wire.grpc.MleapStub(server.open_channel())
    assert stub.GetModel(wire.pb.GetModelRequest(model_name="loaded"), timeout=30).uri == request["uri"]
    assert call(server, "POST", "/models/loaded/transform", FRAME.read_bytes())[0] == 200
    assert call(server, "POST", "/models", request, headers=auth)[0] == 409  # force replaces
    assert call(server, "POST", "/models", dict(request, force=True), headers=auth)[0] == 202
    status, _, body = call(server, "DELETE", "/models/loaded", headers=auth)
    assert status == 200 and json.loads(body)["name"] == "loaded"
    assert call(server, "GET", "/models/loaded")[0] == 404
    # bad bodies and uris
    check_error(*call(server, "POST", "/models", {"modelName": "x", "nope": 1}, headers=auth)[::2], "body")
    check_error(*call(server, "POST", "/models", b"\xff\xff", PROTOBUF_TYPE, headers=auth)[::2], "body")
    status, _, body = call(server, "POST", "/models", {"modelName": "x", "uri": "s3://bucket/m.zip"}, headers=auth)
    assert status == 400 and "scheme 's3'" in json.loads(body)["error"]
    status, _, body = call(server, "POST", "/models", {"modelName": "x", "uri": "/etc/passwd"}, headers=auth)
    assert 400 <= status < 500, body


# --- POST /models/transform ----------------------------------------------------------------------

def test_transform_frame_request_json_and_protobuf(server, wire):  # noqa: F811
    rows = airbnb_rows()[:2]
    frame = mf.binary_frame(AIRBNB_FIELDS, rows)
    request = {"modelName": "rf", "format": mf.BINARY, "tag": "7", "frame": base64.b64encode(frame).decode(),
               "options": {"select": ["price_prediction"]}}
    status, ctype, body = call(server, "POST", "/models/transform", request)
    assert status == 200 and ctype == JSON_TYPE
    answer = json.loads(body)
    assert answer["tag"] == "7" and answer.get("status", "STATUS_OK") == "STATUS_OK"
    fields, got = mf.read_binary_frame(base64.b64decode(answer["frame"]))
    assert fields == [("price_prediction", fields[0][1])]
    for row, (price,) in zip(rows, got):
        assert price == pytest.approx(predicted(server, "rf", dict(zip([n for n, _ in AIRBNB_FIELDS], row)))
                                      ["price_prediction"])
    message = wire.pb.TransformFrameRequest(model_name="rf", format=mf.JSON, tag=3,
                                            frame=mf.json_frame(AIRBNB_FIELDS, rows))
    status, ctype, raw = call(server, "POST", "/models/transform", message.SerializeToString(), PROTOBUF_TYPE)
    assert status == 200 and ctype == PROTOBUF_TYPE
    r = wire.pb.TransformFrameResponse.FromString(raw)
    assert r.tag == 3 and r.status == wire.pb.STATUS_OK and len(mf.read_json_frame(r.frame)[1]) == 2
    # a frame that fails: STATUS_ERROR in a 200 answer, as gRPC Transform
    message.frame = b"{"
    r = wire.pb.TransformFrameResponse.FromString(call(server, "POST", "/models/transform",
                                                       message.SerializeToString(), PROTOBUF_TYPE)[2])
    assert r.status == wire.pb.STATUS_ERROR and "malformed JSON" in r.error


def test_transform_frame_request_bad_input(server):
    check_error(*call(server, "POST", "/models/transform", b"[1, 2")[::2], "body")
    check_error(*call(server, "POST", "/models/transform", {"modelName": "rf", "frame": "not base64!"})[::2], "body")
    check_error(*call(server, "POST", "/models/transform", {"format": mf.JSON})[::2], "modelName")
    status, _, body = call(server, "POST", "/models/transform", {"modelName": "nope", "format": mf.JSON})
    assert status == 404
    assert call(server, "PUT", "/models/transform", b"{}")[0] == 405
