"""HTTP beside gRPC: the Open Inference Protocol's infer over the HTTP port (--http-port) against
ModelInfer over gRPC on the same server, models and records.

    .venv/bin/python bench/rest.py              # printed as a table (about 3 minutes)
    .venv/bin/python bench/rest.py --markdown   # the same as a Markdown table (docs/benchmarks.md)
    .venv/bin/python bench/rest.py --quick      # shorter runs, for a smoke test

One `leapserve serve --http-port` process; clients are separate processes on loopback, each
keeping one connection open (HTTP keep-alive, one gRPC channel) and warmed up for 3 seconds first. The baseline is gRPC ModelInfer
with raw tensors (what tritonclient.grpc sends), measured in the same run in alternating rounds
with each HTTP variant, so that load from elsewhere on a shared machine weighs on both alike;
ratios are the medians of per-round ratios. Measured:

* one record of MLeap's airbnb random forest and of the penguins example: p50 / p99 latency at
  concurrency 1: gRPC ModelInfer, HTTP with JSON data, HTTP with binary tensors;
* requests per second at concurrency 8 (two client processes), gRPC against HTTP JSON;
* 1,000 records in one call: rows per second, gRPC raw against HTTP binary and HTTP JSON;
* the same single records with each client process alternating one gRPC call and one HTTP call
  (so that each pair meets the same machine), HTTP's p50 against gRPC's;
* MLeap's APIs, one airbnb record as a LeapFrame: HTTP POST /models/rf/transform (MLeap Spring Boot's
  endpoint; JSON frame, binary frame) against gRPC ml.combust.mleap.pb.Mleap/Transform (binary frame,
  as MLeap's Scala client sends it), p50 / p99 at concurrency 1, in alternating rounds.

Nothing here asserts: it reports. The penguins example is built first when missing (Spark).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# This folder holds grpc.py, named like the grpc package: keep it off the import path.
sys.path[:] = [str(REPO)] + [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from tests.support.bundles import RF_ZIP, airbnb_record  # noqa: E402
from tests.support.servers import ServerProcess, free_port  # noqa: E402
from tests.support.tables import print_table  # noqa: E402

EXAMPLE_DIR = REPO / "build" / "examples" / "penguins_species"
EXAMPLE_BUNDLE = EXAMPLE_DIR / "bundle-json.zip"
MODEL_INFER = "/inference.GRPCInferenceService/ModelInfer"
MLEAP_TRANSFORM = "/ml.combust.mleap.pb.Mleap/Transform"
PENGUIN = {"island": "Biscoe", "sex": "male", "bill_length_mm": 48.6, "bill_depth_mm": 16.0,
           "flipper_length_mm": 230.0, "body_mass_g": 5800.0}


def records(base: dict, n: int) -> list[dict]:
    out = []
    for i in range(n):
        r = dict(base)
        for k, v in base.items():
            if isinstance(v, float):
                r[k] = v * (0.8 + 0.4 * ((i * 37) % 101) / 100)
        out.append(r)
    return out


def columns(recs: list[dict]) -> list[tuple[str, str, list]]:
    return [(k, "BYTES" if isinstance(v, str) else "FP64", [r[k] for r in recs]) for k, v in recs[0].items()]


def grpc_payload(model: str, recs: list[dict], output: str) -> bytes:
    """A ModelInferRequest with raw tensors, serialized (made here, in the bench's own process)."""
    import numpy as np

    from leapserve.oip import inference_pb2 as pb
    from leapserve.server.tensors import serialize_bytes

    req = pb.ModelInferRequest(model_name=model)
    for name, datatype, values in columns(recs):
        req.inputs.add(name=name, datatype=datatype, shape=[len(values)])
        raw = serialize_bytes([v.encode() for v in values]) if datatype == "BYTES" \
            else np.array(values, dtype="<f8").tobytes()
        req.raw_input_contents.append(raw)
    req.outputs.add(name=output)
    return req.SerializeToString()


def mleap_payloads(model: str) -> dict[str, tuple[bytes, dict | None]]:
    """The airbnb fixture's record as a LeapFrame: a gRPC TransformFrameRequest (binary frame) and the
    bodies of POST /models/{model}/transform (JSON and binary frames), written by the tests' encoder."""
    from leapserve.mleap import mleap_pb2 as pb
    from tests.support import mleap_frames as mf
    from tests.support.bundles import FRAME

    frame = json.loads(FRAME.read_bytes())
    fields = [(f["name"], f["type"]) for f in frame["schema"]["fields"]]
    rows = frame["rows"][:1]
    request = pb.TransformFrameRequest(model_name=model, format=mf.BINARY, frame=mf.binary_frame(fields, rows))
    return {"grpc": (request.SerializeToString(), None),
            "json": (mf.json_frame(fields, rows), {"Content-Type": "application/json"}),
            "binary": (mf.binary_frame(fields, rows), {"Content-Type": "application/x-protobuf"})}


def http_payload(recs: list[dict], output: str, binary: bool) -> tuple[bytes, dict]:
    import numpy as np

    from leapserve.server.tensors import serialize_bytes

    inputs, blobs = [], []
    for name, datatype, values in columns(recs):
        t = {"name": name, "datatype": datatype, "shape": [len(values)]}
        if binary:
            raw = serialize_bytes([v.encode() for v in values]) if datatype == "BYTES" \
                else np.array(values, dtype="<f8").tobytes()
            t["parameters"] = {"binary_data_size": len(raw)}
            blobs.append(raw)
        else:
            t["data"] = values
        inputs.append(t)
    body = {"inputs": inputs, "outputs": [{"name": output, "parameters": {"binary_data": binary}}]}
    header = json.dumps(body).encode()
    headers = {"Content-Type": "application/json"}
    if binary:
        headers = {"Content-Type": "application/octet-stream", "Inference-Header-Content-Length": str(len(header))}
    return header + b"".join(blobs), headers


# --- clients (each its own process) -----------------------------------------------------------

def summary(times: list[float]) -> dict:
    times.sort()
    return {"p50": times[len(times) // 2], "p99": times[min(len(times) - 1, int(len(times) * 0.99))],
            "times": times}


WARM_SECONDS = 3.0


def warm(call, count: int) -> None:
    """``count`` calls, and more until WARM_SECONDS have passed: on a loaded machine a new connection
    between two processes takes a few seconds of steady traffic before the scheduler keeps them
    close (seen as 5-6 ms per HTTP call that drop to 0.6 ms); both protocols get the same warm-up."""
    start = time.perf_counter()
    done = 0
    while done < count or time.perf_counter() - start < WARM_SECONDS:
        call()
        done += 1


def client_grpc_latency(address: str, payload: Path, count: int, warmup: int) -> None:
    import grpc

    data = payload.read_bytes()
    method = payload.with_suffix(".method")
    with grpc.insecure_channel(address, options=[("grpc.max_receive_message_length", -1)]) as ch:
        call = ch.unary_unary(method.read_text() if method.exists() else MODEL_INFER)  # bytes in, bytes out
        warm(lambda: call(data, timeout=30), warmup)
        times = []
        for _ in range(count):
            t = time.perf_counter()
            call(data, timeout=30)
            times.append(time.perf_counter() - t)
    print(json.dumps(summary(times)))


def client_http_latency(address: str, path: str, payload: Path, count: int, warmup: int) -> None:
    import http.client

    headers = json.loads(payload.with_suffix(".headers").read_text())
    body = payload.read_bytes()
    host, port = address.rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=30)

    def call():
        conn.request("POST", path, body, headers)
        r = conn.getresponse()
        r.read()
        if r.status != 200:
            raise SystemExit(f"HTTP {r.status}")

    warm(call, warmup)
    times = []
    for _ in range(count):
        t = time.perf_counter()
        call()
        times.append(time.perf_counter() - t)
    conn.close()
    print(json.dumps(summary(times)))


def client_paired_latency(grpc_address: str, http_address: str, path: str, grpc_payload: Path, http_payload: Path,
                          count: int, warmup: int) -> None:
    """One gRPC call, then one HTTP call, ``count`` times, from this one process: each pair meets the
    same machine. (Run apart, a client doing HTTP calls only goes through phases of 4-8 ms per call
    on a loaded machine that a gRPC-only client does not; interleaved, neither shows them: see
    docs/benchmarks.md.)"""
    import http.client

    import grpc

    data = grpc_payload.read_bytes()
    method = grpc_payload.with_suffix(".method")
    headers = json.loads(http_payload.with_suffix(".headers").read_text())
    body = http_payload.read_bytes()
    host, port = http_address.rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    with grpc.insecure_channel(grpc_address, options=[("grpc.max_receive_message_length", -1)]) as ch:
        grpc_call = ch.unary_unary(method.read_text() if method.exists() else MODEL_INFER)

        def http_call():
            conn.request("POST", path, body, headers)
            r = conn.getresponse()
            r.read()
            if r.status != 200:
                raise SystemExit(f"HTTP {r.status}")

        def pair():
            grpc_call(data, timeout=30)
            http_call()

        warm(pair, warmup)
        g, h = [], []
        for _ in range(count):
            t = time.perf_counter()
            grpc_call(data, timeout=30)
            t1 = time.perf_counter()
            http_call()
            g.append(t1 - t)
            h.append(time.perf_counter() - t1)
    conn.close()
    print(json.dumps({"grpc": summary(g), "http": summary(h)}))


def client_throughput(kind: str, address: str, path: str, payload: Path, concurrency: int, duration: float) -> None:
    import asyncio

    data = payload.read_bytes()

    async def grpc_main():
        import grpc

        async with grpc.aio.insecure_channel(address) as ch:
            call = ch.unary_unary(MODEL_INFER)
            return await drive(lambda: call(data, timeout=30))

    async def http_main():
        import aiohttp

        headers = json.loads(payload.with_suffix(".headers").read_text())
        connector = aiohttp.TCPConnector(limit=concurrency)
        async with aiohttp.ClientSession(f"http://{address}", connector=connector) as session:
            async def one():
                async with session.post(path, data=data, headers=headers) as r:
                    await r.read()
                    if r.status != 200:
                        raise RuntimeError(r.status)
            return await drive(one)

    async def drive(one):
        for _ in range(20):
            await one()
        done = errors = 0
        stop_at = time.perf_counter() + duration

        async def worker():
            nonlocal done, errors
            while time.perf_counter() < stop_at:
                try:
                    await one()
                    done += 1
                except Exception:
                    errors += 1

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return done, errors, time.perf_counter() - start

    done, errors, elapsed = asyncio.run(grpc_main() if kind == "grpc" else http_main())
    print(json.dumps({"done": done, "errors": errors, "elapsed": elapsed}))


# --- the run ------------------------------------------------------------------------------------

def run_client(*args) -> dict:
    out = subprocess.run([sys.executable, __file__, *map(str, args)], cwd=REPO, capture_output=True, text=True,
                         timeout=600)
    if out.returncode != 0:
        raise SystemExit(f"client failed: {out.stderr}")
    return json.loads(out.stdout)


def throughput(kind: str, address: str, path: str, payload: Path, concurrency: int, duration: float) -> float:
    per = max(1, concurrency // 2)
    procs = [subprocess.Popen([sys.executable, __file__, "--client-throughput", kind, address, path, str(payload),
                               str(per), str(duration)], cwd=REPO, stdout=subprocess.PIPE, text=True)
             for _ in range(2)]
    total = 0.0
    for p in procs:
        out, _ = p.communicate(timeout=duration + 120)
        r = json.loads(out)
        if r["errors"]:
            print(f"warning: {r['errors']} failed requests", file=sys.stderr)
        total += r["done"] / r["elapsed"]
    return total


def ensure_example() -> None:
    if EXAMPLE_BUNDLE.exists():
        return
    print("building the penguins example (Spark) ...", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "leapserve.bundler.examples", "--out", str(EXAMPLE_DIR.parent),
                    "penguins_species"], cwd=REPO, check=True)


def measure(args) -> list[tuple[str, str, str]]:
    import tempfile

    ensure_example()
    rounds = 3 if args.quick else 6
    count, warmup, duration = (300, 50, 1.0) if args.quick else (800, 100, 2.0)
    tmp = Path(tempfile.mkdtemp(prefix="leapserve-bench-rest-"))
    say = lambda *a: print(*a, file=sys.stderr, flush=True)  # noqa: E731
    ms = lambda s: f"{s * 1000:.3f} ms"  # noqa: E731

    def write(name: str, data: bytes, headers: dict | None = None) -> Path:
        path = tmp / f"{name}.bin"
        path.write_bytes(data)
        if headers is not None:
            path.with_suffix(".headers").write_text(json.dumps(headers))
        return path

    cases = {"rf": ("rf", airbnb_record(), "price_prediction"), "pg": ("penguins", PENGUIN, "predicted_species")}
    payloads = {}
    for key, (model, record, output) in cases.items():
        for n in (1, 1000):
            recs = records(record, n)
            payloads[(key, n, "grpc")] = write(f"{key}{n}-grpc", grpc_payload(model, recs, output))
            for binary in (False, True):
                kind = "binary" if binary else "json"
                payloads[(key, n, kind)] = write(f"{key}{n}-{kind}", *http_payload(recs, output, binary))
    for kind, (data, headers) in mleap_payloads("rf").items():
        payloads[("mleap", kind)] = write(f"mleap-{kind}", data, headers)
    payloads[("mleap", "grpc")].with_suffix(".method").write_text(MLEAP_TRANSFORM)
    grpc_port, http_port = free_port(), free_port()
    server = ServerProcess(["--port", grpc_port, "--http-port", http_port, "--reload-interval", "0",
                            "--log-level", "warning", "--model", f"rf={RF_ZIP}", "--model", f"penguins={EXAMPLE_BUNDLE}"],
                           tmp / "server.log", f"127.0.0.1:{grpc_port}")
    http_address = f"127.0.0.1:{http_port}"
    rows = []
    with server:
        server.wait_health("SERVING", timeout=120)
        lat: dict = {}
        for r in range(rounds):
            say(f"latency round {r + 1}/{rounds}")
            for key, (model, _, _) in cases.items():
                path = f"/v2/models/{model}/infer"
                lat.setdefault((key, "grpc"), []).append(
                    run_client("--client-grpc-latency", server.address, payloads[(key, 1, "grpc")], count, warmup))
                for kind in ("json", "binary"):
                    lat.setdefault((key, kind), []).append(
                        run_client("--client-http-latency", http_address, path, payloads[(key, 1, kind)], count,
                                   warmup))
        for key, label in (("rf", "airbnb RF"), ("pg", "penguins")):
            base = lat[(key, "grpc")]
            g = summary([t for x in base for t in x["times"]])
            rows.append((f"gRPC ModelInfer {label}, 1 record: p50 / p99 (c=1)", f"{ms(g['p50'])} / {ms(g['p99'])}",
                         "baseline"))
            for kind in ("json", "binary"):
                h = summary([t for x in lat[(key, kind)] for t in x["times"]])
                ratio = statistics.median(a["p50"] / b["p50"] for a, b in zip(lat[(key, kind)], base))
                rows.append((f"HTTP infer {label}, 1 record, {kind}: p50 / p99 (c=1)",
                             f"{ms(h['p50'])} / {ms(h['p99'])}", f"p50 {ratio:.2f}x gRPC"))
        say("MLeap transform ...")
        mleap: dict = {}
        for r in range(rounds):
            mleap.setdefault("grpc", []).append(
                run_client("--client-grpc-latency", server.address, payloads[("mleap", "grpc")], count, warmup))
            for kind in ("json", "binary"):
                mleap.setdefault(kind, []).append(
                    run_client("--client-http-latency", http_address, "/models/rf/transform", payloads[("mleap", kind)],
                               count, warmup))
        g = summary([t for x in mleap["grpc"] for t in x["times"]])
        rows.append(("gRPC MLeap Transform airbnb RF, 1 record, binary frame: p50 / p99 (c=1)",
                     f"{ms(g['p50'])} / {ms(g['p99'])}", "baseline"))
        for kind in ("json", "binary"):
            h = summary([t for x in mleap[kind] for t in x["times"]])
            ratio = statistics.median(a["p50"] / b["p50"] for a, b in zip(mleap[kind], mleap["grpc"]))
            rows.append((f"HTTP /models/rf/transform airbnb RF, 1 record, {kind} frame: p50 / p99 (c=1)",
                         f"{ms(h['p50'])} / {ms(h['p99'])}", f"p50 {ratio:.2f}x gRPC Transform"))
        say("paired gRPC and HTTP calls ...")
        paired: dict = {}
        for r in range(rounds):
            for key, (model, _, _) in cases.items():
                for kind in ("json", "binary"):
                    paired.setdefault((key, kind), []).append(run_client(
                        "--client-paired-latency", server.address, http_address, f"/v2/models/{model}/infer",
                        payloads[(key, 1, "grpc")], payloads[(key, 1, kind)], count, warmup))
            for kind in ("json", "binary"):
                paired.setdefault(("mleap", kind), []).append(run_client(
                    "--client-paired-latency", server.address, http_address, "/models/rf/transform",
                    payloads[("mleap", "grpc")], payloads[("mleap", kind)], count, warmup))
        labels = {"rf": "infer airbnb RF", "pg": "infer penguins",
                  "mleap": "MLeap transform airbnb RF (HTTP /models/rf/transform, gRPC Transform)"}
        for (key, kind), runs in paired.items():
            g = summary([t for x in runs for t in x["grpc"]["times"]])
            h = summary([t for x in runs for t in x["http"]["times"]])
            ratio = statistics.median(x["http"]["p50"] / x["grpc"]["p50"] for x in runs)
            rows.append((f"interleaved, {labels[key]}, 1 record, HTTP {kind}: p50 HTTP / gRPC (c=1)",
                         f"{ms(h['p50'])} / {ms(g['p50'])}", f"HTTP p50 {ratio:.2f}x gRPC"))
        say("throughput ...")
        thr: dict = {}
        for r in range(max(2, rounds // 2)):
            thr.setdefault("grpc", []).append(throughput("grpc", server.address, "", payloads[("rf", 1, "grpc")], 8,
                                                         duration))
            thr.setdefault("json", []).append(throughput("http", http_address, "/v2/models/rf/infer",
                                                         payloads[("rf", 1, "json")], 8, duration))
        g = statistics.median(thr["grpc"])
        h = statistics.median(thr["json"])
        ratio = statistics.median(a / b for a, b in zip(thr["json"], thr["grpc"]))
        rows.append(("gRPC ModelInfer airbnb RF: requests/s (c=8)", f"{g:,.0f}", "baseline"))
        rows.append(("HTTP infer airbnb RF, JSON: requests/s (c=8)", f"{h:,.0f}", f"{ratio:.2f}x gRPC"))
        say("batches ...")
        for key, (model, _, _), label in (("rf", cases["rf"], "airbnb RF"), ("pg", cases["pg"], "penguins")):
            path = f"/v2/models/{model}/infer"
            batch: dict = {}
            for r in range(3):
                batch.setdefault("grpc", []).append(
                    run_client("--client-grpc-latency", server.address, payloads[(key, 1000, "grpc")], 10, 2))
                for kind in ("binary", "json"):
                    batch.setdefault(kind, []).append(
                        run_client("--client-http-latency", http_address, path, payloads[(key, 1000, kind)], 10, 2))
            g = statistics.median(x["p50"] for x in batch["grpc"])
            rows.append((f"gRPC ModelInfer {label}, 1,000 records: rows/s", f"{1000 / g:,.0f}",
                         f"baseline, {ms(g)} per call"))
            for kind in ("binary", "json"):
                h = statistics.median(x["p50"] for x in batch[kind])
                ratio = statistics.median(b["p50"] / a["p50"] for a, b in zip(batch[kind], batch["grpc"]))
                rows.append((f"HTTP infer {label}, 1,000 records, {kind}: rows/s", f"{1000 / h:,.0f}",
                             f"{ratio:.2f}x gRPC's rows/s, {ms(h)} per call"))
    return rows


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--client-grpc-latency":
        client_grpc_latency(argv[1], Path(argv[2]), int(argv[3]), int(argv[4]))
        return 0
    if argv and argv[0] == "--client-http-latency":
        client_http_latency(argv[1], argv[2], Path(argv[3]), int(argv[4]), int(argv[5]))
        return 0
    if argv and argv[0] == "--client-paired-latency":
        client_paired_latency(argv[1], argv[2], argv[3], Path(argv[4]), Path(argv[5]), int(argv[6]), int(argv[7]))
        return 0
    if argv and argv[0] == "--client-throughput":
        client_throughput(argv[1], argv[2], argv[3], Path(argv[4]), int(argv[5]), float(argv[6]))
        return 0
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="shorter runs")
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    args = parser.parse_args(argv)
    load_before = os.getloadavg()[0]
    rows = measure(args)
    import aiohttp

    print_table(rows, args.markdown, (load_before, os.getloadavg()[0]), "leapserve HTTP benchmark",
                f"aiohttp {aiohttp.__version__}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
