"""Optional OpenTelemetry spans: run only where opentelemetry-sdk is installed."""

from __future__ import annotations

import grpc
import pytest

from tests.support.bundles import RF_ZIP, airbnb_record
from tests.support.servers import predict_request, prediction_stub

pytest.importorskip("opentelemetry.sdk.trace", reason="opentelemetry-sdk is not installed (tracing is optional)")


def test_spans_continue_the_callers_trace(start_server):
    import os

    env = {"OTEL_TRACES_EXPORTER": "console", "OTEL_SERVICE_NAME": "scorer-test"}
    if os.environ.get("PYTHONPATH"):
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    server = start_server("--model", f"rf={RF_ZIP}", "--reload-interval", "0", "--tracing", env=env)
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    with grpc.insecure_channel(server.address) as ch:
        prediction_stub(ch).Predict(predict_request("rf", airbnb_record()), timeout=10,
                                    metadata=[("traceparent", f"00-{trace_id}-00f067aa0ba902b7-01")])
    assert server.stop() == 0
    log = server.log()
    assert '"name": "leapserve.v1.PredictionService/Predict"' in log
    assert f'"trace_id": "0x{trace_id}"' in log
    assert '"leapserve.model": "rf"' in log and '"rpc.grpc.status_code": 0' in log
    assert "scorer-test" in log


def test_http_port_spans_and_request_logs(start_server):
    import json
    import os
    import urllib.error
    import urllib.request

    from tests.support.servers import free_port

    env = {"OTEL_TRACES_EXPORTER": "console"}
    if os.environ.get("PYTHONPATH"):
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    port = free_port()
    server = start_server("--model", f"rf={RF_ZIP}", "--reload-interval", "0", "--tracing", "--http-port", port,
                          "--log-level", "debug", env=env)
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    req = urllib.request.Request(f"http://127.0.0.1:{port}/v2/models/rf/infer", data=json.dumps({"inputs": []}).encode(),
                                 headers={"traceparent": f"00-{trace_id}-00f067aa0ba902b7-01",
                                          "x-request-id": "req-42"}, method="POST")
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(req, timeout=10)
    assert info.value.code == 400
    assert server.stop() == 0
    log = server.log()
    assert '"name": "POST /v2/models/{model}/infer"' in log
    assert f'"trace_id": "0x{trace_id}"' in log
    assert '"leapserve.model": "rf"' in log and '"http.response.status_code": 400' in log
    assert "http/ModelInfer model=rf version=1 code=INVALID_ARGUMENT status=400" in log and "request_id=req-42" in log
