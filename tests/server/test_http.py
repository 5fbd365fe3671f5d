"""The HTTP port (--http-port): the Open Inference Protocol's REST v2 driven by tritonclient.http,
unmodified, and by curl, against a real server on loopback; answers compared with leapserve.v1's
PredictBatch over gRPC on the same server. Bad input of every endpoint gets a 4xx with a JSON error
naming the field, expected and actual value.

Nothing here imports leapserve.oip (tritonclient's copy of the protocol's messages would clash).
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request

import numpy as np
import pytest

from leapserve.v1 import prediction_pb2_grpc as pb_grpc
from tests.support.bundles import LR_ZIP, RF_ZIP, airbnb_record
from tests.support.metrics_text import samples, scrape, value
from tests.support.servers import batch_request, free_port

httpclient = pytest.importorskip("tritonclient.http")
from tritonclient.utils import InferenceServerException  # noqa: E402

TOKEN = "s3cret-token"
N = 6


class Http:
    """A server's HTTP port, its gRPC address and its metrics port."""

    def __init__(self, server, port: int, metrics_port: int | None = None):
        self.server = server
        self.port = port
        self.url = f"127.0.0.1:{port}"
        self.metrics_port = metrics_port

    def request(self, method: str, path: str, body: bytes | str | dict | None = None, headers=None):
        """(status, parsed JSON body, headers) of one request."""
        if isinstance(body, dict):
            body = json.dumps(body)
        if isinstance(body, str):
            body = body.encode()
        req = urllib.request.Request(f"http://{self.url}{path}", data=body, method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                status, data, hdrs = r.status, r.read(), r.headers
        except urllib.error.HTTPError as e:
            status, data, hdrs = e.code, e.read(), e.headers
        try:
            parsed = json.loads(data)
        except ValueError:
            parsed = data
        return status, parsed, hdrs


@pytest.fixture(scope="module")
def http(start_module_server, tmp_path_factory):
    model_dir = tmp_path_factory.mktemp("http-models")
    shutil.copy(LR_ZIP, model_dir / "airbnb_lr.zip")
    port, metrics_port = free_port(), free_port()
    server = start_module_server("--model", f"airbnb_rf={RF_ZIP}", "--model-dir", model_dir, "--http-port", port,
                                 "--admin", "--metrics-port", metrics_port, "--max-message-size", "1M",
                                 env={"LEAPSERVE_ADMIN_TOKEN": TOKEN})
    return Http(server, port, metrics_port)


@pytest.fixture(scope="module")
def client(http):
    c = httpclient.InferenceServerClient(url=http.url)
    yield c
    c.close()


def records(n: int = N) -> list[dict]:
    base = airbnb_record()
    return [dict(base, bathrooms=float(i % 4), bedrooms=float(1 + i % 3), state=["NY", "CA", "TX"][i % 3])
            for i in range(n)]


def grpc_predictions(http: Http, model: str, recs: list[dict], outputs: list[str]) -> dict[str, list]:
    stub = pb_grpc.PredictionServiceStub(http.server.open_channel())
    r = stub.PredictBatch(batch_request(model, recs), timeout=30)
    out = {}
    for name in outputs:
        col = []
        for row in r.results:
            v = row.outputs[name]
            kind = v.WhichOneof("kind")
            col.append(list(v.vector_value.values) if kind == "vector_value" else getattr(v, kind))
        out[name] = col
    return out


def triton_inputs(md: dict, recs: list[dict], binary: bool):
    inputs = []
    for t in md["inputs"]:
        if t["datatype"] == "BYTES":
            arr = np.array([r[t["name"]].encode() for r in recs], dtype=np.object_)
        else:
            arr = np.array([float(r[t["name"]]) for r in recs])
        inp = httpclient.InferInput(t["name"], [len(recs)], t["datatype"])
        inp.set_data_from_numpy(arr, binary_data=binary)
        inputs.append(inp)
    return inputs


def test_health_and_metadata_match_grpc(http, client):
    tritonclient_grpc = pytest.importorskip("tritonclient.grpc")
    assert client.is_server_live() and client.is_server_ready()
    assert client.is_model_ready("airbnb_rf") and client.is_model_ready("airbnb_rf", "1")
    assert not client.is_model_ready("nope") and not client.is_model_ready("airbnb_rf", "9")
    md = client.get_server_metadata()
    assert md["name"] == "leapserve" and md["version"] and md["extensions"] == ["model_repository"]
    grpc_client = tritonclient_grpc.InferenceServerClient(url=http.server.address)
    for model in ("airbnb_rf", "airbnb_lr"):
        over_http = client.get_model_metadata(model)
        over_grpc = grpc_client.get_model_metadata(model, as_json=True)
        for t in over_grpc["inputs"] + over_grpc["outputs"]:
            t["shape"] = [int(d) for d in t["shape"]]  # protobuf's JSON writes int64 as strings
        assert over_http == over_grpc
        assert client.get_model_metadata(model, "1") == over_http
    grpc_client.close()
    with pytest.raises(InferenceServerException) as info:
        client.get_model_metadata("nope")
    assert "unknown model 'nope'" in str(info.value)


@pytest.mark.parametrize("binary", [True, False])
@pytest.mark.parametrize("model", ["airbnb_rf", "airbnb_lr"])
def test_tritonclient_infer_matches_grpc_predict(http, client, model, binary):
    md = client.get_model_metadata(model)
    recs = records()
    outputs = ["price_prediction", "state_index", "features_rf" if model == "airbnb_rf" else "features_lr"]
    result = client.infer(model, triton_inputs(md, recs, binary),
                          outputs=[httpclient.InferRequestedOutput(o, binary_data=binary) for o in outputs],
                          request_id="r-1")
    want = grpc_predictions(http, model, recs, outputs)
    for name in outputs:
        np.testing.assert_array_equal(result.as_numpy(name), np.array(want[name]))
    response = result.get_response()
    assert response["model_version"] == "1" and response["id"] == "r-1"
    # no outputs named: tritonclient asks for every output in binary
    every = client.infer(model, triton_inputs(md, recs, binary))
    np.testing.assert_array_equal(every.as_numpy("price_prediction"), want["price_prediction"])
    assert {o["name"] for o in every.get_response()["outputs"]} == {t["name"] for t in md["outputs"]}


def test_curl_json_infer(http):
    if shutil.which("curl") is None:
        pytest.skip("no curl")
    recs = records(3)
    body = {"inputs": [{"name": k, "shape": [3], "datatype": "BYTES" if isinstance(v, str) else "FP64",
                        "data": [r[k] for r in recs]} for k, v in recs[0].items()],
            "outputs": [{"name": "price_prediction"}]}
    out = subprocess.run(["curl", "-sS", "-X", "POST", "-H", "Content-Type: application/json", "-d", json.dumps(body),
                          f"http://{http.url}/v2/models/airbnb_rf/infer"], capture_output=True, text=True, timeout=30)
    answer = json.loads(out.stdout)
    assert answer["outputs"][0]["name"] == "price_prediction" and answer["outputs"][0]["shape"] == [3]
    assert answer["outputs"][0]["data"] == grpc_predictions(http, "airbnb_rf", recs, ["price_prediction"])[
        "price_prediction"]
    live = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", f"http://{http.url}/v2/health/live"],
                          capture_output=True, text=True, timeout=30)
    assert live.stdout == "200"


def test_nested_data_and_a_version_path(http):
    recs = records(2)
    body = {"inputs": [{"name": k, "shape": [2, 1], "datatype": "BYTES" if isinstance(v, str) else "FP64",
                        "data": [[r[k]] for r in recs]} for k, v in recs[0].items()], "id": "nested"}
    status, answer, _ = http.request("POST", "/v2/models/airbnb_rf/versions/1/infer", body)
    assert status == 200 and answer["id"] == "nested"
    by_name = {o["name"]: o for o in answer["outputs"]}
    assert by_name["price_prediction"]["data"] == grpc_predictions(http, "airbnb_rf", recs, ["price_prediction"])[
        "price_prediction"]
    assert by_name["features_rf"]["shape"] == [2, 13]


def test_repository_index_load_and_unload(http, client):
    index = client.get_model_repository_index()
    assert {"name": "airbnb_lr", "version": "1", "state": "READY", "reason": ""} in index
    assert {"name": "airbnb_rf", "version": "1", "state": "READY", "reason": ""} in index
    with pytest.raises(InferenceServerException) as info:
        client.unload_model("airbnb_lr")  # no token
    assert info.value.status() == "401" or "token" in str(info.value)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    client.unload_model("airbnb_lr", headers=auth)
    assert not client.is_model_ready("airbnb_lr")
    assert {"name": "airbnb_lr", "version": "1", "state": "UNAVAILABLE", "reason": "not loaded"} in \
        client.get_model_repository_index()
    client.load_model("airbnb_lr", headers={"x-leapserve-admin-token": TOKEN})
    assert client.is_model_ready("airbnb_lr")
    with pytest.raises(InferenceServerException) as info:
        client.load_model("airbnb_lr", headers=auth, config='{"backend": "x"}')
    assert "parameters['config']" in str(info.value) and "a bundle carries its own" in str(info.value)


def error_of(http, method, path, body=None, headers=None, status=400):
    got, answer, _ = http.request(method, path, body, headers)
    assert got == status, answer
    assert isinstance(answer, dict) and set(answer) >= {"error"}, answer
    return answer


INFER = "/v2/models/airbnb_rf/infer"


def tensor(name="bathrooms", datatype="FP64", shape=(1,), data=(1.0,), **more):
    t = {"name": name, "datatype": datatype, "shape": list(shape), **more}
    if data is not None:
        t["data"] = list(data)
    return t


@pytest.mark.parametrize("body, status, words", [
    ("{bad", 400, ["request body", "a JSON object", "line 1 column 2"]),
    ("", 400, ["request body", "an empty body"]),
    ("[1, 2]", 400, ["request body", "a JSON object", "a list"]),
    ({"inputs": {}}, 400, ["inputs", "a list of tensors", "an object"]),
    ({"inputs": []}, 400, ["inputs", "no inputs"]),
    ({"inputs": [3]}, 400, ["inputs[0]", "a JSON object", "an integer"]),
    ({"inputs": [tensor(name="")]}, 400, ["inputs[0].name", "the name of an input"]),
    ({"inputs": [tensor(datatype="FP99")]}, 400, ["'bathrooms'", "a datatype among", '"FP99"']),
    ({"inputs": [tensor(shape=("1",))]}, 400, ["'bathrooms'", "a list of integers", '["1"]']),
    ({"inputs": [tensor(shape=(2,))]}, 400, ["'bathrooms'", "2 elements for shape [2]", "1"]),
    ({"inputs": [tensor(data=("one",))]}, 400, ["'bathrooms'", "FP64 data (numbers)", 'a string "one" (element 0)']),
    ({"inputs": [tensor(datatype="INT8", data=(300,))]}, 400, ["'bathrooms'", "INT8 values (-128 to 127)", "300"]),
    ({"inputs": [tensor(name="state", datatype="BYTES", data=(5,))]}, 400, ["'state'", "BYTES data as strings"]),
    ({"inputs": [tensor(data=None)]}, 400, ["inputs[0].data", "no data"]),
    ({"inputs": [tensor()]}, 400, ["required inputs are missing", "bedrooms"]),
    ({"inputs": [tensor(data=(1.0, 2.0), shape=(2,)), tensor(name="bedrooms", data=(1.0,))]}, 400,
     ["'bedrooms'", "2 records like the other inputs", "1"]),
    ({"inputs": [tensor()], "outputs": [{"name": "price_prediction", "parameters": {"binary_data": "yes"}}]}, 400,
     ["outputs[0].parameters.binary_data", "true or false", '"yes"']),
    ({"inputs": [tensor()], "parameters": {"binary_data_output": 1}}, 400,
     ["parameters.binary_data_output", "true or false"]),
])
def test_bad_infer_json(http, body, status, words):
    answer = error_of(http, "POST", INFER, body, status=status)
    for word in words:
        assert word in answer["error"], answer


def binary_body(tensors: list[dict], blobs: list[bytes]):
    header = json.dumps({"inputs": tensors}).encode()
    return header + b"".join(blobs), {"Inference-Header-Content-Length": str(len(header))}


def test_bad_binary_data(http):
    one = np.array([1.0]).tobytes()
    body, headers = binary_body([tensor(data=None, parameters={"binary_data_size": 16})], [one])
    answer = error_of(http, "POST", INFER, body, headers)
    assert answer["field"] == "inputs[0].parameters.binary_data_size" and answer["actual"] == "16"
    assert "at most 8 bytes" in answer["expected"]
    body, headers = binary_body([tensor(data=None, parameters={"binary_data_size": 8})], [one, b"extra"])
    answer = error_of(http, "POST", INFER, body, headers)
    assert answer["field"] == "binary data" and answer["actual"] == "13 bytes" and "8 bytes" in answer["expected"]
    body, headers = binary_body([tensor(data=None, shape=(2,), parameters={"binary_data_size": 8})], [one])
    assert "16 raw bytes for FP64 shape [2]" in error_of(http, "POST", INFER, body, headers)["error"]
    body, headers = binary_body([tensor(data=None, parameters={"binary_data_size": -1})], [one])
    assert error_of(http, "POST", INFER, body, headers)["expected"] == "a byte count (an integer >= 0)"
    body, headers = binary_body([tensor(data=(1.0,), parameters={"binary_data_size": 8})], [one])
    assert "its data is binary" in error_of(http, "POST", INFER, body, headers)["expected"]
    body, headers = binary_body([tensor(name="state", datatype="BYTES", data=None,
                                        parameters={"binary_data_size": 6})], [b"\x09\x00\x00\x00NY"])
    assert "a length of 9 past its end" in error_of(http, "POST", INFER, body, headers)["error"]
    for bad in ("-1", "x", str(len(body) + 1)):
        answer = error_of(http, "POST", INFER, body, {"Inference-Header-Content-Length": bad})
        assert answer["field"] == "header 'Inference-Header-Content-Length'" and repr(bad) == answer["actual"]


def test_oversized_body_deadline_and_routes(http):
    big = {"inputs": [tensor(shape=(90_000,), data=[1.234567891] * 90_000)]}  # 1.2 MB, under the row limit
    answer = error_of(http, "POST", INFER, big, status=413)
    assert "over 1,048,576 bytes (--max-message-size)" in answer["error"]
    recs = records(1)
    body = {"inputs": [{"name": k, "shape": [1], "datatype": "BYTES" if isinstance(v, str) else "FP64",
                        "data": [v]} for k, v in recs[0].items()]}
    assert "deadline passed" in error_of(http, "POST", INFER, body, {"timeout": "0.000001"}, status=504)["error"]
    assert http.request("POST", INFER, body, {"timeout": "5000"})[0] == 200
    answer = error_of(http, "POST", INFER, body, {"timeout": "soon"})
    assert answer["field"] == "header 'timeout'" and answer["actual"] == "'soon'"
    assert "no endpoint GET /v3" in error_of(http, "GET", "/v3", status=404)["error"]
    assert "allowed: POST" in error_of(http, "GET", INFER, status=405)["error"]


@pytest.mark.parametrize("method, path", [
    ("GET", "/v2/models/nope"), ("GET", "/v2/models/nope/ready"), ("POST", "/v2/models/nope/infer"),
    ("GET", "/v2/models/airbnb_rf/versions/9"), ("GET", "/v2/models/airbnb_rf/versions/9/ready"),
    ("POST", "/v2/models/airbnb_rf/versions/9/infer"),
])
def test_unknown_model_or_version_is_404(http, method, path):
    answer = error_of(http, method, path, {"inputs": [tensor()]} if method == "POST" else None, status=404)
    assert "nope" in answer["error"] or "'9'" in answer["error"], answer


def test_bad_repository_calls(http, start_server):
    auth = {"Authorization": f"Bearer {TOKEN}"}
    load = "/v2/repository/models/airbnb_lr/load"
    assert "token" in error_of(http, "POST", load, status=401)["error"]
    assert "token" in error_of(http, "POST", load, headers={"Authorization": "Bearer wrong"}, status=401)["error"]
    assert error_of(http, "POST", load, {"parameters": {"path": 3}}, auth)["error"] == \
        "parameters['path']: expected a string_param; got a int64_param"
    assert error_of(http, "POST", load, {"parameters": {"path": [1]}}, auth)["expected"] == \
        "a string, a boolean or a number"
    assert "holds no nothing_here.zip" in error_of(http, "POST", "/v2/repository/models/nothing_here/load", None,
                                                   auth, status=404)["error"]
    answer = error_of(http, "POST", "/v2/repository/models/airbnb_lr/unload", {"parameters": {"x": True}}, auth)
    assert answer["field"] == "parameters['x']"
    assert error_of(http, "POST", "/v2/repository/index", "{nope")["field"] == "request body"
    assert error_of(http, "POST", "/v2/repository/index", {"ready": "yes"})["expected"] == "true or false"
    assert "one repository" in error_of(http, "POST", "/v2/repository/index", {"repository_name": "x"})["error"]
    # without --admin: load and unload are refused, the index still answers
    port = free_port()
    plain = Http(start_server("--model", f"airbnb_lr={LR_ZIP}", "--http-port", port), port)
    assert "start the server with --admin" in error_of(plain, "POST", load, status=403)["error"]
    assert "--admin" in error_of(plain, "POST", "/v2/repository/models/airbnb_lr/unload", status=403)["error"]
    assert plain.request("POST", "/v2/repository/index")[0] == 200


def test_metrics_count_http_calls(http):
    status, _, _ = http.request("GET", "/v2/models/airbnb_rf/ready")
    assert status == 200
    error_of(http, "POST", INFER, "{bad")
    parsed = samples(scrape(http.metrics_port))
    assert value(parsed, "leapserve_requests_total", model="airbnb_rf", version="1", rpc="http/ModelReady",
                 code="OK") >= 1
    assert value(parsed, "leapserve_requests_total", model="airbnb_rf", version="1", rpc="http/ModelInfer",
                 code="INVALID_ARGUMENT") >= 1
    assert value(parsed, "leapserve_rows_total", model="airbnb_rf", version="1", rpc="http/ModelInfer",
                 outcome="ok") >= N


def test_drain_turns_ready_false_and_answers(start_server, tmp_path):
    port = free_port()
    server = start_server("--model", f"airbnb_lr={LR_ZIP}", "--http-port", port, "--drain-seconds", "10")
    http = Http(server, port)
    assert http.request("GET", "/v2/health/ready")[0] == 200
    server.signal(signal.SIGTERM)
    deadline = time.monotonic() + 8
    while http.request("GET", "/v2/health/ready")[0] == 200 and time.monotonic() < deadline:
        time.sleep(0.05)
    status, answer, headers = http.request("GET", "/v2/health/ready")
    assert status == 400 and answer == {"ready": False}
    assert http.request("GET", "/v2/models/airbnb_lr")[0] == 200  # still answering while it drains
    server.signal(signal.SIGTERM)  # a second signal cuts the drain short
    assert server.wait(20) == 0


def test_http_port_taken_is_a_start_failure(tmp_path):
    import socket

    from tests.support.servers import run_cli

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        taken = s.getsockname()[1]
        r = run_cli("serve", "--model", f"m={LR_ZIP}", "--port", free_port(), "--http-port", taken, timeout=60)
    assert r.returncode == 1 and "(--http-port): address already in use" in r.stderr, r.stderr


def test_https_and_mutual_tls(start_server, tmp_path):
    import http.client
    import ssl

    from tests.support.certificates import have_openssl, make_certificates

    if not have_openssl():
        pytest.skip("no openssl")
    certs = make_certificates(tmp_path / "certs")
    port = free_port()
    start_server("--model", f"airbnb_lr={LR_ZIP}", "--http-port", port, "--tls-cert", certs["server"],
                 "--tls-key", certs["server_key"], "--tls-client-ca", certs["ca"], wait=None)

    def ready(context) -> int:
        conn = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=10)
        try:
            conn.request("GET", "/v2/models/airbnb_lr/ready")
            return conn.getresponse().status
        finally:
            conn.close()

    context = ssl.create_default_context(cafile=str(certs["ca"]))
    context.load_cert_chain(str(certs["client"]), str(certs["client_key"]))
    deadline = time.monotonic() + 60
    status = None
    while status != 200 and time.monotonic() < deadline:  # listening, then the model loads in the background
        try:
            status = ready(context)
        except ConnectionRefusedError:
            pass
        time.sleep(0.1)
    assert status == 200
    without = ssl.create_default_context(cafile=str(certs["ca"]))
    with pytest.raises((ssl.SSLError, ConnectionError)):  # no client certificate: the handshake fails
        ready(without)
    with pytest.raises((ConnectionError, http.client.HTTPException)):  # plaintext to the TLS port
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", "/v2/health/live")
        conn.getresponse().read()


def test_penguins_example_gets_sparks_numbers(spark, start_server, tmp_path):
    """The penguins example, fitted by Spark: tritonclient.http (JSON and binary) answers what
    Spark's transform does and what gRPC PredictBatch does."""
    from leapserve import bundler
    from leapserve.bundler.examples import penguins_species

    model, data = penguins_species.train(spark)
    path = tmp_path / "penguins.zip"
    bundler.export_bundle(model, data, path, force=True, verify=False)
    sample = data.filter("sex IS NOT NULL").limit(40)  # OIP tensors carry no nulls
    inputs = ["island", "sex", "bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]
    recs = [{k: r[k] for k in inputs} for r in sample.select(*inputs).collect()]
    spark_rows = model.transform(sample).select("prediction", "probability", "predicted_species").collect()
    port = free_port()
    http = Http(start_server("--model", f"penguins={path}", "--http-port", port), port)
    c = httpclient.InferenceServerClient(url=http.url)
    md = c.get_model_metadata("penguins")
    want_grpc = grpc_predictions(http, "penguins", recs, ["prediction", "probability", "predicted_species"])
    for binary in (True, False):
        outputs = [httpclient.InferRequestedOutput(o, binary_data=binary)
                   for o in ("prediction", "probability", "predicted_species")]
        result = c.infer("penguins", triton_inputs(md, recs, binary), outputs=outputs)
        np.testing.assert_allclose(result.as_numpy("prediction"), [r["prediction"] for r in spark_rows], atol=1e-9)
        np.testing.assert_allclose(result.as_numpy("probability"), [r["probability"].toArray() for r in spark_rows],
                                   atol=1e-9)
        species = [s.decode() if isinstance(s, bytes) else s for s in result.as_numpy("predicted_species")]
        assert species == [r["predicted_species"] for r in spark_rows]
        np.testing.assert_array_equal(result.as_numpy("probability"), np.array(want_grpc["probability"]))
        assert species == want_grpc["predicted_species"]
    c.close()
