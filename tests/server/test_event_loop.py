"""The event loop the servers run on (--event-loop, server/loops.py): uvloop by default where it
is installed (the serving install has it), Python's own asyncio loop on request. Every other server
test runs on the default; here both loops answer unary calls, 200 streams open at once (each in
order) and the HTTP port with the forest's answer, and the startup line names the loop."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import urllib.request

import grpc
import pytest

from tests.support.bundles import RF_ZIP, airbnb_record
from tests.support.servers import REPO, clean_env, free_port, predict_request, prediction_stub
from tests.support.streams import check_predict_answers, open_predict_streams
from tests.support.traffic import wait_until


@pytest.mark.parametrize("asked", [None, "uvloop", "asyncio"])
def test_servers_answer_on_the_event_loop_asked_for(start_server, asked):
    http_port = free_port()
    server = start_server("--model", f"rf={RF_ZIP}", "--reload-interval", "0", "--http-port", http_port,
                          *(("--event-loop", asked) if asked else ()))
    kind = asked or "uvloop"  # the default where uvloop is installed, as in this environment
    wait_until(lambda: f"(event loop: {kind};" in server.log(), 10, "the startup line naming the loop")
    with grpc.insecure_channel(server.address) as channel:
        price = prediction_stub(channel).Predict(predict_request("rf", airbnb_record()), timeout=10) \
            .outputs["price_prediction"].double_value
    check_predict_answers(asyncio.run(open_predict_streams(server.address, 200, 30.0)), 200, price, 30.0)

    inputs = [{"name": k, "shape": [1], "datatype": "FP64" if isinstance(v, float) else "BYTES", "data": [v]}
              for k, v in airbnb_record().items()]
    body = json.dumps({"inputs": inputs, "outputs": [{"name": "price_prediction"}]}).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{http_port}/v2/models/rf/infer", data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert json.load(answer)["outputs"][0]["data"] == [price]


def _serve(*args, env=None, code: str = "") -> subprocess.CompletedProcess:
    """`leapserve serve ARGS` in a Python that first runs ``code``."""
    program = f"{code}\nimport sys\nfrom leapserve.cli import main\nsys.exit(main(sys.argv[1:]))"
    return subprocess.run([sys.executable, "-c", program, "serve", "--model", f"rf={RF_ZIP}", *args],
                          capture_output=True, text=True, cwd=REPO, env=clean_env(env), timeout=60)


def test_an_unknown_event_loop_is_a_usage_error():
    out = _serve(env={"LEAPSERVE_EVENT_LOOP": "tokio"})
    assert out.returncode == 2
    assert "LEAPSERVE_EVENT_LOOP='tokio': expected one of uvloop, asyncio" in out.stderr
    out = _serve("--event-loop", "tokio")
    assert out.returncode == 2
    assert "--event-loop: invalid choice: 'tokio'" in out.stderr


def test_uvloop_asked_for_where_it_is_missing_is_a_usage_error():
    hidden = "import sys\nsys.modules['uvloop'] = None  # import uvloop fails, as where it is not installed"
    out = _serve("--event-loop", "uvloop", code=hidden)
    assert out.returncode == 2
    assert "--event-loop uvloop: uvloop is not installed in this Python (pip install uvloop)" in out.stderr
