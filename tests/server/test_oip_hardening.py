"""ModelInfer against hostile or careless requests (issue 13, items 2, 4 and 6), on real servers
driven by tritonclient's generated stubs:

* a wide sparse output (HashingTF, Spark's 262,144 features) is never densified past the response
  limit: unnamed intermediate columns are left out, a requested one is refused up front with
  RESOURCE_EXHAUSTED naming the output, its shape and its size;
* shapes are checked (every dimension, their product, the row limit) before anything is built;
* int_contents out of an INT8 / INT16 range are INVALID_ARGUMENT, not INTERNAL;
* client strings reaching a log line are escaped and truncated.

Bundles are hand-written (tests/support/handmade.py): no Spark.
"""

from __future__ import annotations

import re

import grpc
import numpy as np
import pytest

pytest.importorskip("tritonclient.grpc")
from tritonclient.grpc import service_pb2, service_pb2_grpc  # noqa: E402

from tests.support import handmade as hm  # noqa: E402
from tests.support.bundles import json_lr_entries, write_dir  # noqa: E402
from tests.support.servers import ServerProcess, cli_command, free_port  # noqa: E402

WIDE = 262_144  # Spark's default numFeatures
ROWS = 500


def text_pipeline(root):
    """text -> tokenizer (words) -> HashingTF (tf, 262,144 features) -> linear regression (prediction)."""
    coefficients = [0.0] * WIDE
    return hm.write_bundle(root, "json", [
        hm.node("tok", "tokenizer", {}, inputs=[("input", "text")], outputs=[("output", "words")]),
        hm.node("tf", "hashing_term_frequency", {"num_features": hm.long(WIDE)},
                inputs=[("input", "words")], outputs=[("output", "tf")]),
        hm.node("lr", "linear_regression", {"coefficients": hm.tensor(coefficients), "intercept": hm.double(1.5)},
                inputs=[("features", "tf")], outputs=[("prediction", "prediction")]),
    ])


def list_pipeline(root):
    """words (a list of strings) -> HashingTF (16 features)."""
    return hm.write_bundle(root, "json", [
        hm.node("tf", "hashing_term_frequency", {"num_features": hm.long(16)},
                inputs=[("input", "words")], outputs=[("output", "tf")]),
    ])


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hardening")
    text = text_pipeline(folder / "text")
    words = list_pipeline(folder / "words")
    lr = write_dir(folder / "lr", json_lr_entries([2.0, -1.0], 1.0))
    port = free_port()
    args = ["--model", f"text={text}", "--model", f"words={words}", "--model", f"lr={lr}",
            "--max-batch-rows", "5000", "--log-level", "debug", "--port", str(port)]
    # An address-space limit: a server that builds what a tiny request describes fails (or dies)
    # quickly instead of taking the machine's memory.
    command = ["prlimit", "--as=6000000000", "--", *cli_command("serve", *args)]
    with ServerProcess(args, folder / "server.log", f"127.0.0.1:{port}", command=command) as s:
        s.wait_health("SERVING")
        yield s


@pytest.fixture(scope="module")
def stub(server):
    return service_pb2_grpc.GRPCInferenceServiceStub(server.open_channel())


def text_request(outputs=(), rows=ROWS, raw=True):
    req = service_pb2.ModelInferRequest(model_name="text", id="wide")
    t = req.inputs.add(name="text", datatype="BYTES", shape=[rows])
    texts = [f"the quick brown fox number {i}".encode() for i in range(rows)]
    if raw:
        req.raw_input_contents.append(b"".join(len(b).to_bytes(4, "little") + b for b in texts))
    else:
        t.contents.bytes_contents.extend(texts)
    for name in outputs:
        req.outputs.add(name=name)
    return req


def refused(stub, request, code):
    with pytest.raises(grpc.RpcError) as info:
        stub.ModelInfer(request, timeout=30)
    assert info.value.code() == code, info.value.details()
    return info.value


def peak_rss_kib(server) -> int:
    with open(f"/proc/{server.proc.pid}/status") as f:
        return int(re.search(r"VmHWM:\s+(\d+)", f.read()).group(1))


# --- item 2: wide sparse outputs -------------------------------------------------------------

def test_unnamed_outputs_leave_out_wide_intermediate_columns(server, stub):
    """No outputs named, 500 rows through a 262,144-feature HashingTF: the dense tf column would be
    1 GB. The answer holds the pipeline's final output and says what it left out; the server's
    peak memory stays far below the size of the tensor it did not build."""
    before = peak_rss_kib(server)
    for raw in (True, False):
        resp = stub.ModelInfer(text_request(raw=raw), timeout=60)
        assert [o.name for o in resp.outputs] == ["prediction"]
        assert list(resp.outputs[0].shape) == [ROWS]
        values = (np.frombuffer(resp.raw_output_contents[0], dtype="<f8") if raw
                  else np.array(resp.outputs[0].contents.fp64_contents))
        np.testing.assert_array_equal(values, np.full(ROWS, 1.5))
        assert resp.parameters["omitted_outputs"].string_param == "words,tf"
    assert peak_rss_kib(server) - before < 200 * 1024


def test_requested_wide_output_is_refused_before_it_is_built(server, stub):
    before = peak_rss_kib(server)
    err = refused(stub, text_request(outputs=["tf"]), grpc.StatusCode.RESOURCE_EXHAUSTED)
    size = ROWS * WIDE * 8
    assert err.details() == (f"output 'tf' of shape [{ROWS}, {WIDE}] (FP64) would be {size:,} bytes; "
                             f"the response limit is 67,108,864 bytes (--max-response-bytes)")
    assert peak_rss_kib(server) - before < 200 * 1024
    # one row of the same output fits (2 MiB, under the client's 4 MiB), and is the right vector
    small = stub.ModelInfer(text_request(outputs=["tf", "prediction"], rows=1), timeout=30)
    assert [list(o.shape) for o in small.outputs] == [[1, WIDE], [1]]
    tf = np.frombuffer(small.raw_output_contents[0], dtype="<f8").reshape(1, WIDE)
    assert tf.sum(axis=1).tolist() == [6.0]


def test_wide_final_output_is_refused_too(server, stub):
    req = service_pb2.ModelInferRequest(model_name="words")
    req.inputs.add(name="words", datatype="BYTES", shape=[1, 2]).contents.bytes_contents.extend([b"a", b"b"])
    resp = stub.ModelInfer(req, timeout=30)
    assert list(resp.outputs[0].shape) == [1, 16]
    assert "omitted_outputs" not in resp.parameters


# --- item 4: shapes checked before anything is built -----------------------------------------

def test_huge_shapes_are_refused_before_building(server, stub):
    """A 30-byte request shaped [2^62, 0] once grew until the process died."""
    cases = [
        ("words", "BYTES", [2 ** 62, 0], grpc.StatusCode.RESOURCE_EXHAUSTED,
         "4611686018427387904 records in one ModelInfer (input 'words', shape [4611686018427387904, 0]); "
         "the limit is 5000"),
        ("words", "BYTES", [6000, 0], grpc.StatusCode.RESOURCE_EXHAUSTED,
         "6000 records in one ModelInfer (input 'words', shape [6000, 0]); the limit is 5000"),
        ("words", "BYTES", [2, 2 ** 62], grpc.StatusCode.INVALID_ARGUMENT,
         "field 'words': expected dimensions of at most 2147483647 each, got shape [2, 4611686018427387904]"),
        ("words", "BYTES", [3, -1], grpc.StatusCode.INVALID_ARGUMENT,
         "field 'words': expected a shape of non-negative sizes, got shape [3, -1]"),
        ("words", "BYTES", [4000, 2 ** 20], grpc.StatusCode.INVALID_ARGUMENT,
         "field 'words': expected at most 2147483647 elements in all, got 4194304000 (shape [4000, 1048576])"),
        ("words", "BYTES", [4, 3], grpc.StatusCode.INVALID_ARGUMENT,
         "field 'words': expected 12 elements for shape [4, 3], got 0"),
    ]
    for name, datatype, shape, code, details in cases:
        req = service_pb2.ModelInferRequest(model_name="words")
        req.inputs.add(name=name, datatype=datatype, shape=shape)
        assert req.ByteSize() < 64
        err = refused(stub, req, code)
        assert err.details() == details
    assert server.proc.poll() is None
    assert "Traceback" not in server.log()


# --- item 6: typed integers out of range ------------------------------------------------------

@pytest.mark.parametrize("datatype, field, values, expected, actual", [
    ("INT8", "int_contents", [1, 300], "INT8 values (-128 to 127)", "300 (element 1)"),
    ("INT16", "int_contents", [-40000], "INT16 values (-32768 to 32767)", "-40000 (element 0)"),
    ("UINT8", "uint_contents", [256], "UINT8 values (0 to 255)", "256 (element 0)"),
    ("UINT16", "uint_contents", [7, 70000], "UINT16 values (0 to 65535)", "70000 (element 1)"),
])
def test_integers_out_of_range_are_invalid_argument(server, stub, datatype, field, values, expected, actual):
    req = service_pb2.ModelInferRequest(model_name="lr")
    a = req.inputs.add(name="a", datatype=datatype, shape=[len(values)])
    getattr(a.contents, field).extend(values)
    req.inputs.add(name="b", datatype="FP64", shape=[len(values)]).contents.fp64_contents.extend([0.0] * len(values))
    err = refused(stub, req, grpc.StatusCode.INVALID_ARGUMENT)
    assert err.details() == f"field 'a': expected {expected}, got {actual}"
    assert dict(err.trailing_metadata()) == {"leapserve-field": "a", "leapserve-expected": expected,
                                             "leapserve-actual": actual}
    assert "Traceback" not in server.log() and "OverflowError" not in server.log()


# --- item 6: client strings in log lines ------------------------------------------------------

def test_request_ids_cannot_forge_log_lines(server, stub):
    forged = "x\n2026-01-01 00:00:00,000 ERROR [1] leapserve.server: FORGED " + "y" * 1000
    req = service_pb2.ModelInferRequest(model_name="lr", id=forged)
    req.inputs.add(name="a", datatype="FP64", shape=[1]).contents.fp64_contents.append(1.0)
    req.inputs.add(name="b", datatype="FP64", shape=[1]).contents.fp64_contents.append(1.0)
    assert stub.ModelInfer(req, timeout=10).id == forged  # the answer carries the id as it came
    req.id = ""
    stub.ModelInfer(req, timeout=10, metadata=(("x-request-id", "h" + "FORGED-HEADER" * 100),))
    log = server.log()
    lines = [line for line in log.splitlines() if "FORGED" in line]
    assert lines and all(not line.lstrip().startswith(("2026-01-01", "FORGED")) for line in lines)
    assert any("request_id=x\\n2026-01-01 00:00:00,000 ERROR" in line for line in lines)
    assert any("request_id=hFORGED-HEADER" in line for line in lines)
    for line in lines:
        rid = line.split("request_id=", 1)[1]
        assert len(rid) < 260 and "y" * 250 not in rid
