"""Logs: text by default, JSON lines with --log-format json, request lines with ids at debug level."""

from __future__ import annotations

import json
import shutil
import time

import grpc

from tests.support.bundles import RF_ZIP, airbnb_record
from tests.support.servers import predict_request, prediction_stub


def json_lines(text: str) -> list[dict]:
    out = []
    for line in text.splitlines():
        if line.strip():
            out.append(json.loads(line))  # every line is one JSON object
    return out


def test_json_logs_model_events_and_request_ids(start_server, tmp_path):
    models = tmp_path / "models"
    models.mkdir()
    shutil.copyfile(RF_ZIP, models / "rf.zip")
    server = start_server("--model-dir", models, "--log-format", "json", "--log-level", "debug",
                          "--reload-interval", "0.2")
    record = airbnb_record()
    with grpc.insecure_channel(server.address) as ch:
        stub = prediction_stub(ch)
        stub.Predict(predict_request("rf", record, request_id="req-field-1"), timeout=10)
        stub.Predict(predict_request("rf", record), metadata=[("x-request-id", "req-header-2")], timeout=10)
        stub.Predict(predict_request("rf", record), timeout=10)
    (models / ".broken.tmp").write_bytes(b"not a bundle")
    (models / ".broken.tmp").replace(models / "broken.zip")
    deadline = time.monotonic() + 30
    while "model_load_failed" not in server.log() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert server.stop() == 0
    lines = json_lines(server.log())
    assert all({"time", "level", "logger", "message", "pid"} <= set(line) for line in lines)
    events = [line for line in lines if "event" in line]
    loaded = [e for e in events if e["event"] == "model_loaded"]
    assert len(loaded) == 1 and loaded[0]["model"] == "rf" and loaded[0]["version"] == "1"
    assert loaded[0]["ms"] > 0 and loaded[0]["generation"] == 1 and loaded[0]["path"].endswith("rf.zip")
    failed = [e for e in events if e["event"] == "model_load_failed"]
    assert len(failed) == 1 and failed[0]["model"] == "broken" and failed[0]["level"] == "ERROR" and failed[0]["error"]
    requests = [e for e in events if e["event"] == "request"]
    assert [r["request_id"] for r in requests[:2]] == ["req-field-1", "req-header-2"]
    assert requests[2]["request_id"]  # made up when the caller gives none
    assert all(r["rpc"] == "Predict" and r["code"] == "OK" and r["model"] == "rf" and r["version"] == "1"
               for r in requests)
    assert {"listening", "serving", "shutdown", "stopping", "stopped"} <= {e["event"] for e in events}


def test_text_logs_by_default_and_no_request_lines_at_info(start_server):
    server = start_server("--model", f"rf={RF_ZIP}", "--reload-interval", "0")
    with grpc.insecure_channel(server.address) as ch:
        prediction_stub(ch).Predict(predict_request("rf", airbnb_record(), request_id="quiet"), timeout=10)
    assert server.stop() == 0
    text = server.log()
    assert "model rf version 1: loaded and warmed" in text
    assert "SERVING: 1 model version(s) loaded" in text
    assert "quiet" not in text and not text.lstrip().startswith("{")


def test_client_text_is_escaped_and_truncated():
    from leapserve.server.logs import client_text

    assert client_text("req-42") == "req-42"
    assert client_text("a\nb\r\x1b[31m\u202e") == "a\\nb\\r\\x1b[31m\\u202e"
    assert client_text("x" * 500) == "x" * 200 + "... (500 characters)"
    assert "\n" not in client_text("\n" * 1000) and len(client_text("\n" * 1000)) < 450
