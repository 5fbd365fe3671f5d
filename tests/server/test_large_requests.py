"""A large Predict message (many fields) is parsed and scored on a request thread, not on the event
loop: health keeps answering while it is worked on. The parse itself holds the GIL (protobuf's C
code), so the loop is held up for that part; the decoding and scoring, in Python, share it."""

from __future__ import annotations

import threading
import time

import grpc

from tests.support.bundles import RF_ZIP, airbnb_record
from tests.support.servers import health_status, predict_request, prediction_stub

EXTRA_FIELDS = 300_000  # about 6.5 MB; the pipeline reads its own fields and ignores these


def test_health_answers_while_a_large_predict_is_worked_on(start_server):
    server = start_server("--model", f"rf={RF_ZIP}", "--reload-interval", "0")
    record = airbnb_record()
    large = predict_request("rf", record, request_id="large")
    for i in range(EXTRA_FIELDS):
        large.inputs[f"extra{i}"].double_value = i
    data = large.SerializeToString()
    with grpc.insecure_channel(server.address) as ch, grpc.insecure_channel(server.address) as probe:
        stub = prediction_stub(ch)
        for _ in range(20):  # the pipeline is known fast: small requests are scored on the loop
            stub.Predict(predict_request("rf", record), timeout=5)
        expected = stub.Predict(predict_request("rf", record, request_id="large"), timeout=5)
        outcome = {}

        def call():
            outcome["reply"] = ch.unary_unary("/leapserve.v1.PredictionService/Predict")(data, timeout=60)

        caller = threading.Thread(target=call)
        checks = []
        caller.start()
        while caller.is_alive():
            start = time.monotonic()
            assert health_status(probe, timeout=10) == "SERVING"
            checks.append((start, time.monotonic()))
        caller.join()
    answered_during = [c for c in checks[1:-1]]
    longest = max(end - start for start, end in checks)
    total = checks[-1][1] - checks[0][0]
    assert type(expected).FromString(outcome["reply"]) == expected
    assert len(answered_during) >= 10 and longest < 0.6 * total, (
        f"{len(checks)} health checks answered in {total:.2f} s, the longest waited {longest:.2f} s: the event loop was held")
