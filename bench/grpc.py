"""Serving speed: leapserve's gRPC server against the floor of Python gRPC and against Spark.

    .venv/bin/python bench/grpc.py              # everything, printed as a table (about 5 minutes)
    .venv/bin/python bench/grpc.py --markdown   # the same as a Markdown table (docs/serving.md)
    .venv/bin/python bench/grpc.py --quick      # shorter runs, for a smoke test
    .venv/bin/python bench/grpc.py --ghz        # Predict p50 against the empty handler, with ghz
    .venv/bin/python bench/grpc.py --event-loops   # requests/s with ghz on uvloop and on asyncio's loop
    .venv/bin/python bench/grpc.py --streams 1000  # memory per open PredictStream

Clients and servers are separate processes on loopback. Servers under comparison run side by side
and are measured in alternating short rounds, so that load from elsewhere on a shared machine
weighs on both alike (ratios are medians of per-round ratios). Measured in one run:

* an empty-handler server: the same service and messages, a handler that returns a prebuilt
  response (the floor of Python gRPC on this machine);
* Predict on MLeap's airbnb random forest fixture and on the penguins example pipeline:
  p50 / p99 latency at concurrency 1, throughput at concurrency 8 and 32 with 1 and 2 workers;
* PredictBatch of 1,000 records: rows per second;
* Spark local mode on the same penguins pipeline (the fitted Spark model): one record, and 1,000
  records, each as createDataFrame + transform + collect;
* with the xgboost extra, the same for the penguins' features into XGBoost's SparkXGBClassifier
  (100 trees of depth 6 per class; built into build/examples/penguins_xgb/ when missing): Predict
  p50 / p99, PredictBatch rows per second, and Spark local mode.

With --ghz: Predict p50 on the airbnb forest against an empty Predict handler of the same leapserve
server (same command, same settings, metrics and reload on: `leapserve serve` with its Predict
replaced by one that returns the forest's answer, computed on its first call), each measured by
ghz (the Go gRPC load tool, bench/ghz.py installs it) at concurrency 1: five runs, each of ten
alternating rounds (a run's p50 is the median of its rounds'); the ratio is the median of the five
runs' ratios (target <= 1.15x).

With --event-loops: requests per second with ghz (a Go client, so the client's own Python does not
weigh) at concurrency 8 and 32 against leapserve on uvloop and on asyncio's loop, and against the
empty Predict handler of the same server (see --ghz) on each loop, in alternating rounds; ratios
are to the synchronous empty-handler server above, per round. What the choice of loop is worth.

With --streams N: the server's RSS with N PredictStreams open (each has sent a request and got its
answer), less its RSS before, per stream.

Targets: Predict p50 within 1.3x of the empty handler's p50, p99 under 2 ms, at least 4,000
single-record requests per second on 2 cores, PredictBatch above Spark local mode's rows per second.
Nothing here asserts: it reports. The penguins example is built first when missing
(python -m leapserve.bundler.examples), which needs Spark.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# This file is named like the grpc package: keep its folder off the import path so that
# `import grpc` finds grpcio, and put the repository first.
sys.path[:] = [str(REPO)] + [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from tests.support.bundles import RF_ZIP, airbnb_record  # noqa: E402
from tests.support.servers import ServerProcess, free_port  # noqa: E402
from tests.support.tables import print_table  # noqa: E402

EXAMPLE_DIR = REPO / "build" / "examples" / "penguins_species"
EXAMPLE_BUNDLE = EXAMPLE_DIR / "bundle-json.zip"
# The penguins example's features into XGBoost's SparkXGBClassifier (100 trees of depth 6 per
# class), measured when the xgboost extra is installed
XGB_DIR = REPO / "build" / "examples" / "penguins_xgb"
XGB_BUNDLE = XGB_DIR / "bundle-json.zip"
PREDICT = "/leapserve.v1.PredictionService/Predict"
PREDICT_BATCH = "/leapserve.v1.PredictionService/PredictBatch"

PENGUIN = {"island": "Biscoe", "sex": "male", "bill_length_mm": 48.6, "bill_depth_mm": 16.0,
           "flipper_length_mm": 230.0, "body_mass_g": 5800.0}


def penguin_records(n: int, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        out.append({
            "island": rng.choice(["Biscoe", "Dream", "Torgersen"]), "sex": rng.choice(["male", "female"]),
            "bill_length_mm": round(rng.uniform(33, 58), 1), "bill_depth_mm": round(rng.uniform(13, 21), 1),
            "flipper_length_mm": float(rng.randint(172, 231)), "body_mass_g": float(rng.randint(2700, 6300)),
        })
    return out


def airbnb_records(n: int, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    base = airbnb_record()
    out = []
    for _ in range(n):
        rec = dict(base)
        rec["bathrooms"] = float(rng.randint(1, 3))
        rec["bedrooms"] = float(rng.randint(1, 5))
        rec["square_feet"] = float(rng.randint(300, 3000))
        rec["state"] = rng.choice(["NY", "CA", "TX", "Other"])
        out.append(rec)
    return out


# --- messages ------------------------------------------------------------------------------------

def predict_request(model: str, record: dict) -> bytes:
    from leapserve.v1 import prediction_pb2 as pb
    from leapserve.server.codec import encode_value

    req = pb.PredictRequest(model=model)
    for k, v in record.items():
        encode_value(req.inputs[k], v)
    return req.SerializeToString()


def batch_request(model: str, records: list[dict]) -> bytes:
    from leapserve.v1 import prediction_pb2 as pb
    from leapserve.server.codec import encode_value

    req = pb.PredictBatchRequest(model=model)
    for record in records:
        fields = req.records.add().fields
        for k, v in record.items():
            encode_value(fields[k], v)
    return req.SerializeToString()


# --- processes --------------------------------------------------------------------------------------

def leapserve_server(workers: int, logs: Path, xgb: bool = False) -> ServerProcess:
    port = free_port()
    extra = ["--model", f"xgb={XGB_BUNDLE}"] if xgb else []
    return ServerProcess(["--port", port, "--workers", workers, "--reload-interval", "0", "--log-level", "warning",
                          "--model", f"rf={RF_ZIP}", "--model", f"penguins={EXAMPLE_BUNDLE}", *extra],
                         logs / f"leapserve-{workers}.log", f"127.0.0.1:{port}")


def empty_server(logs: Path) -> ServerProcess:
    port = free_port()
    return ServerProcess([], logs / f"empty-{port}.log", f"127.0.0.1:{port}",
                         command=[sys.executable, __file__, "--serve-empty", str(port)])


def wait_serving(*servers: ServerProcess) -> None:
    for server in servers:
        server.wait_health("SERVING", timeout=120)


def run_client(*args) -> dict:
    out = subprocess.run([sys.executable, __file__, *map(str, args)], cwd=REPO, capture_output=True, text=True,
                         timeout=600)
    if out.returncode != 0:
        raise SystemExit(f"client failed: {out.stderr}")
    return json.loads(out.stdout)


def write_payload(tmp: Path, name: str, data: bytes) -> Path:
    path = tmp / name
    path.write_bytes(data)
    return path


# --- the empty-handler server ------------------------------------------------------------------

def serve_empty(port: int) -> None:
    """The same service and messages as leapserve, a handler that returns a prebuilt answer."""
    from concurrent import futures

    import grpc
    from grpc_health.v1 import health, health_pb2_grpc

    from leapserve.v1 import prediction_pb2 as pb
    from leapserve.v1 import prediction_pb2_grpc as pb_grpc
    from leapserve.server.codec import ModelCodec
    from leapserve.runtime import load_bundle

    answers = {}
    for name, path, record in (("rf", RF_ZIP, airbnb_record()), ("penguins", EXAMPLE_BUNDLE, PENGUIN)):
        pipeline = load_bundle(str(path))
        response = pb.PredictResponse(model=name, version="1")
        ModelCodec(pipeline).encode_outputs(response.outputs, pipeline.transform(record))
        answers[name] = response

    class Empty(pb_grpc.PredictionServiceServicer):
        def Predict(self, request, context):
            return answers[request.model]

    # As many request threads as leapserve's default (--threads 4): the same GIL contention.
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4),
                         options=[("grpc.so_reuseport", 0)], maximum_concurrent_rpcs=1000)
    pb_grpc.add_PredictionServiceServicer_to_server(Empty(), server)
    health_pb2_grpc.add_HealthServicer_to_server(health.HealthServicer(), server)
    server.add_insecure_port(f"127.0.0.1:{port}")
    server.start()
    signal.signal(signal.SIGTERM, lambda *a: server.stop(0))
    server.wait_for_termination()


def serve_empty_leapserve(argv: list[str]) -> int:
    """`leapserve serve ARGV` with an empty Predict: it answers each model with the response its
    first call got (scored then), so the messages are the same and nothing is scored after."""
    from leapserve.cli import main as leapserve_main
    from leapserve.server.services import prediction

    answers: dict[str, bytes] = {}

    async def Predict(self, request, context):  # noqa: N802 (gRPC's method name)
        answer = answers.get(request.model)
        if answer is None:
            answer = answers[request.model] = await self.placement.score(request, self._resolve, self._predict)
        return answer

    prediction.PredictionService.Predict = Predict
    return leapserve_main(["serve", *argv])


# --- ghz: a Go client for unary latency ---------------------------------------------------------

def write_protoset(tmp: Path) -> Path:
    """leapserve.v1's descriptors for ghz (its own .proto parser predates proto3 `optional`)."""
    import importlib.resources

    from grpc_tools import protoc

    out = tmp / "prediction.protoset"
    well_known = importlib.resources.files("grpc_tools") / "_proto"  # google/protobuf/*.proto
    if protoc.main(["protoc", f"-I{REPO / 'protos'}", f"-I{well_known}", "--include_imports", f"--descriptor_set_out={out}",
                    "leapserve/v1/prediction.proto"]) != 0:
        raise SystemExit("protoc could not write the protoset for ghz")
    return out


def ghz_binary() -> Path:
    """ghz, built by bench/ghz.py when missing (loaded by its path: the bench folder stays off the
    import path, see above)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_ghz", REPO / "bench" / "ghz.py")
    bench_ghz = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench_ghz)
    return bench_ghz.ensure_ghz()


def ghz_report(ghz: Path, protoset: Path, address: str, payload: Path, concurrency: int, count: int) -> dict:
    """ghz's JSON report of ``count`` Predict calls at ``concurrency``; every call must succeed."""
    out = subprocess.run([str(ghz), "--insecure", "--protoset", str(protoset),
                          "--call", "leapserve.v1.PredictionService.Predict",
                          "--binary-file", str(payload), "-c", str(concurrency), "-n", str(count), "--format", "json",
                          address], capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        raise SystemExit(f"ghz failed: {out.stderr or out.stdout}")
    report = json.loads(out.stdout)
    if report.get("errorDistribution"):
        raise SystemExit(f"ghz: calls failed: {report['errorDistribution']}")
    return report


def ghz_p50(ghz: Path, protoset: Path, address: str, payload: Path, count: int) -> float:
    """Predict's p50 in seconds over ``count`` calls at concurrency 1."""
    report = ghz_report(ghz, protoset, address, payload, 1, count)
    return next(d["latency"] for d in report["latencyDistribution"] if d["percentage"] == 50) / 1e9


def measure_ghz(args) -> list[tuple[str, str, str]]:
    import tempfile

    ghz = ghz_binary()
    runs = 5
    count = 1000 if args.quick else 5000
    tmp = Path(tempfile.mkdtemp(prefix="leapserve-ghz-"))
    payload = write_payload(tmp, "rf", predict_request("rf", airbnb_record()))
    protoset = write_protoset(tmp)
    say = lambda *a: print(*a, file=sys.stderr, flush=True)  # noqa: E731

    def started(empty: bool) -> ServerProcess:
        port = free_port()
        # Default settings: reload on (every 2 s), metrics on.
        serve = ["--port", port, "--log-level", "warning", "--metrics-port", free_port(), "--model", f"rf={RF_ZIP}"]
        command = ([sys.executable, __file__, "--serve-empty-leapserve", *map(str, serve)] if empty else None)
        return ServerProcess(serve, tmp / f"{'empty' if empty else 'leapserve'}.log", f"127.0.0.1:{port}",
                             command=command)

    p50s: dict[str, list[float]] = {"empty": [], "rf": []}
    cpu_per_call: dict[str, list[float]] = {"empty": [], "rf": []}  # server CPU seconds per call, each round
    with started(True) as empty, started(False) as leap:
        wait_serving(empty, leap)
        for srv in (empty, leap):
            ghz_p50(ghz, protoset, srv.address, payload, 500)  # warm-up
        for r in range(runs):
            say(f"  ghz run {r + 1}/{runs}")
            # A run is 10 alternating rounds of count/10 calls to each server (load from elsewhere on
            # a shared machine weighs on both alike); its p50 is the median of its rounds' p50s.
            rounds: dict[str, list[float]] = {"empty": [], "rf": []}
            for k in range(10):
                order = (("empty", empty), ("rf", leap)) if k % 2 == 0 else (("rf", leap), ("empty", empty))
                for key, srv in order:
                    cpu = cpu_seconds(srv.proc.pid)
                    rounds[key].append(ghz_p50(ghz, protoset, srv.address, payload, count // 10))
                    cpu_per_call[key].append((cpu_seconds(srv.proc.pid) - cpu) / (count // 10))
            for key in p50s:
                p50s[key].append(statistics.median(rounds[key]))
    us = lambda s: f"{s * 1e6:.0f} us"  # noqa: E731
    ratios = [a / b for a, b in zip(p50s["rf"], p50s["empty"])]
    per_run = ", ".join(f"{r:.2f}" for r in ratios)
    return [
        ("empty Predict handler (same server): p50, median of 5 runs (ghz, c=1)",
         us(statistics.median(p50s["empty"])), "floor: " + ", ".join(us(p) for p in p50s["empty"])),
        ("Predict airbnb RF: p50, median of 5 runs (ghz, c=1)", us(statistics.median(p50s["rf"])),
         ", ".join(us(p) for p in p50s["rf"])),
        ("Predict / empty handler p50, median of the 5 per-run ratios", f"{statistics.median(ratios):.2f}x",
         f"per run: {per_run} (target <= 1.15x)"),
        ("server CPU per call (user + system, all rounds): empty / Predict",
         f"{us(statistics.fmean(cpu_per_call['empty']))} / {us(statistics.fmean(cpu_per_call['rf']))}",
         f"{statistics.fmean(cpu_per_call['rf']) / statistics.fmean(cpu_per_call['empty']):.2f}x: "
         "less moved than wall time by load from elsewhere"),
    ]


def measure_event_loops(args) -> list[tuple[str, str, str]]:
    import tempfile

    ghz = ghz_binary()
    rounds, count = (4, 2000) if args.quick else (8, 4000)
    tmp = Path(tempfile.mkdtemp(prefix="leapserve-loops-"))
    payload = write_payload(tmp, "rf", predict_request("rf", airbnb_record()))
    protoset = write_protoset(tmp)
    say = lambda *a: print(*a, file=sys.stderr, flush=True)  # noqa: E731

    def started(loop: str, empty: bool) -> ServerProcess:
        port = free_port()
        # Default settings (reload every 2 s, metrics on) but the loop.
        serve = ["--port", port, "--log-level", "warning", "--metrics-port", free_port(), "--model", f"rf={RF_ZIP}",
                 "--event-loop", loop]
        command = [sys.executable, __file__, "--serve-empty-leapserve", *map(str, serve)] if empty else None
        return ServerProcess(serve, tmp / f"{loop}-{'empty' if empty else 'predict'}.log", f"127.0.0.1:{port}",
                             command=command)

    kinds = [("sync empty handler (grpc.server, 4 threads)", None),
             ("leapserve empty Predict, uvloop", ("uvloop", True)),
             ("leapserve empty Predict, asyncio", ("asyncio", True)),
             ("leapserve Predict airbnb RF, uvloop", ("uvloop", False)),
             ("leapserve Predict airbnb RF, asyncio", ("asyncio", False))]
    servers = [empty_server(tmp) if spec is None else started(*spec) for _, spec in kinds]
    rps: dict[tuple[int, int], list[float]] = {}
    try:
        wait_serving(*servers)
        for srv in servers:
            ghz_report(ghz, protoset, srv.address, payload, 8, 500)  # warm-up
        for c in (8, 32):
            for r in range(rounds):
                say(f"  c={c}: round {r + 1}/{rounds}")
                order = list(enumerate(servers)) if r % 2 == 0 else list(enumerate(servers))[::-1]
                for i, srv in order:
                    rps.setdefault((c, i), []).append(ghz_report(ghz, protoset, srv.address, payload, c, count)["rps"])
    finally:
        for srv in servers:
            srv.stop()
    rows = []
    for c in (8, 32):
        for i, (label, _) in enumerate(kinds):
            values = rps[(c, i)]
            ratio = statistics.median(a / b for a, b in zip(values, rps[(c, 0)]))
            rows.append((f"{label}: requests/s (ghz, c={c})", f"{statistics.median(values):,.0f}",
                         "floor" if i == 0 else f"{ratio:.2f}x the sync empty handler"))
    return rows


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads) so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --- memory per open stream ------------------------------------------------------------------------

def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise SystemExit(f"no VmRSS for process {pid}")


def measure_streams(args) -> list[tuple[str, str, str]]:
    import asyncio
    import tempfile

    import grpc

    from leapserve.v1 import prediction_pb2_grpc as pb_grpc

    count = args.streams
    tmp = Path(tempfile.mkdtemp(prefix="leapserve-streams-"))
    request = predict_request("rf", airbnb_record())
    port = free_port()
    rows = []
    with ServerProcess(["--port", port, "--log-level", "warning", "--reload-interval", "0", "--model", f"rf={RF_ZIP}"],
                       tmp / "leapserve.log", f"127.0.0.1:{port}") as server:
        wait_serving(server)

        async def hold() -> tuple[int, int, float]:
            channels = [grpc.aio.insecure_channel(server.address) for _ in range(8)]
            for ch in channels:  # connections up before the baseline
                await ch.channel_ready()
            method = "/leapserve.v1.PredictionService/PredictStream"
            calls = [channels[i % 8].stream_stream(method)() for i in range(count)]
            await calls[0].write(request)
            await calls[0].read()
            await asyncio.sleep(0.5)
            before = rss_bytes(server.proc.pid)
            started = time.perf_counter()
            for call in calls[1:]:
                await call.write(request)
            for call in calls[1:]:
                await call.read()
            opened = time.perf_counter() - started
            await asyncio.sleep(0.5)
            after = rss_bytes(server.proc.pid)
            for call in calls:
                await call.done_writing()
                await call.read()
            for ch in channels:
                await ch.close()
            return before, after, opened

        before, after, opened = asyncio.run(hold())
    mib = lambda b: f"{b / 2**20:.1f} MiB"  # noqa: E731
    rows.append((f"server RSS, 1 stream open / {count} streams open", f"{mib(before)} / {mib(after)}",
                 f"{count - 1} streams opened and answered in {opened:.2f} s"))
    rows.append(("RSS per open PredictStream", f"{(after - before) / (count - 1) / 1024:.1f} KiB",
                 "each has sent one request and got its answer"))
    return rows


# --- clients ---------------------------------------------------------------------------------

def client_latency(address: str, method: str, payload: Path, count: int, warmup: int) -> None:
    import grpc

    data = payload.read_bytes()
    with grpc.insecure_channel(address) as ch:
        call = ch.unary_unary(method)  # bytes in, bytes out: no client-side (de)serialization
        for _ in range(warmup):
            call(data, timeout=30)
        times = []
        for _ in range(count):
            t = time.perf_counter()
            call(data, timeout=30)
            times.append(time.perf_counter() - t)
    times.sort()
    print(json.dumps({"p50": times[len(times) // 2], "p99": times[min(len(times) - 1, int(len(times) * 0.99))],
                      "mean": statistics.fmean(times), "count": count, "times": times}))


def client_throughput(address: str, method: str, payload: Path, concurrency: int, duration: float) -> None:
    import asyncio

    import grpc

    data = payload.read_bytes()

    async def main():
        async with grpc.aio.insecure_channel(address) as ch:
            call = ch.unary_unary(method)
            for _ in range(20):
                await call(data, timeout=30)
            done = 0
            errors = 0
            stop_at = time.perf_counter() + duration

            async def worker():
                nonlocal done, errors
                while time.perf_counter() < stop_at:
                    try:
                        await call(data, timeout=30)
                        done += 1
                    except grpc.RpcError:
                        errors += 1

            start = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(concurrency)))
            return done, errors, time.perf_counter() - start

    done, errors, elapsed = asyncio.run(main())
    print(json.dumps({"done": done, "errors": errors, "elapsed": elapsed}))


def throughput(address: str, payload: Path, concurrency: int, duration: float, clients: int = 2) -> float:
    """Requests per second with `clients` client processes sharing the concurrency."""
    per = max(1, concurrency // clients)
    procs = [subprocess.Popen([sys.executable, __file__, "--client-throughput", address, PREDICT, str(payload),
                               str(per), str(duration)], cwd=REPO, stdout=subprocess.PIPE, text=True)
             for _ in range(clients)]
    total = 0.0
    for p in procs:
        out, _ = p.communicate(timeout=duration + 120)
        r = json.loads(out)
        if r["errors"]:
            print(f"warning: {r['errors']} failed requests", file=sys.stderr)
        total += r["done"] / r["elapsed"]
    return total


# --- Spark ---------------------------------------------------------------------------------------

def spark_numbers(runs: int, model_dir: Path = EXAMPLE_DIR / "spark-model",
                  outputs=("prediction", "probability", "predicted_species")) -> dict:
    from leapserve import bundler
    from pyspark.ml import PipelineModel

    spark = bundler.spark_session()
    model = PipelineModel.load(str(model_dir))
    columns = list(PENGUIN)
    schema = ("island string, sex string, bill_length_mm double, bill_depth_mm double, "
              "flipper_length_mm double, body_mass_g double")

    def score(records):
        df = spark.createDataFrame([tuple(r[c] for c in columns) for r in records], schema)
        return model.transform(df).select(*outputs).collect()

    for _ in range(3):
        score([PENGUIN])
    one = []
    for _ in range(runs):
        t = time.perf_counter()
        score([PENGUIN])
        one.append(time.perf_counter() - t)
    records = penguin_records(1000)
    score(records)
    many = []
    for _ in range(max(3, runs // 4)):
        t = time.perf_counter()
        score(records)
        many.append(time.perf_counter() - t)
    return {"one_p50": statistics.median(one), "rows_per_s": 1000 / statistics.median(many)}


# --- the run ------------------------------------------------------------------------------------

def ensure_example() -> None:
    if EXAMPLE_BUNDLE.exists() and (EXAMPLE_DIR / "spark-model").exists():
        return
    print("building the penguins example (Spark) ...", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "leapserve.bundler.examples", "--out", str(EXAMPLE_DIR.parent), "penguins_species"],
                   cwd=REPO, check=True)


def ensure_xgb_example() -> bool:
    """The XGBoost pipeline's saved Spark model and bundle (built with Spark when missing); False
    without the xgboost extra."""
    try:
        from xgboost.spark import SparkXGBClassifier
    except ImportError:
        print("no XGBoost pipeline: needs pip install 'leapserve[xgboost]'", file=sys.stderr)
        return False
    if XGB_BUNDLE.exists() and (XGB_DIR / "spark-model").exists():
        return True
    print("building the XGBoost penguins pipeline (Spark) ...", file=sys.stderr)
    from leapserve import bundler
    from leapserve.bundler.examples import penguins_species
    from pyspark.ml import PipelineModel
    from pyspark.ml.feature import StringIndexer

    spark = bundler.spark_session()
    example, data = penguins_species.train(spark)
    features = PipelineModel(stages=example.stages[:5])  # indexers, one-hot, assembler, scaler
    labelled = StringIndexer(inputCol="species", outputCol="label").fit(data).transform(data)
    xgb = SparkXGBClassifier(features_col="features", label_col="label", n_estimators=100, max_depth=6,
                             num_workers=1).fit(features.transform(labelled))
    model = PipelineModel(stages=[*features.stages, xgb])
    XGB_DIR.mkdir(parents=True, exist_ok=True)
    model.write().overwrite().save(str(XGB_DIR / "spark-model"))
    bundler.export_bundle(model, data, XGB_BUNDLE, force=True)
    return True


def pooled(runs: list[dict]) -> dict:
    times = sorted(t for r in runs for t in r["times"])
    return {"p50": times[len(times) // 2], "p99": times[min(len(times) - 1, int(len(times) * 0.99))]}


def measure(args) -> list[tuple[str, str, str]]:
    """Servers under comparison run side by side and are measured in alternating short rounds,
    so that load from outside (a shared machine) weighs on both alike; ratios are the median of
    the per-round ratios."""
    import tempfile

    ensure_example()
    has_xgb = ensure_xgb_example()
    rounds = 3 if args.quick else 6
    count, warmup, duration = (300, 50, 1.0) if args.quick else (800, 100, 2.0)
    tmp = Path(tempfile.mkdtemp(prefix="leapserve-bench-"))
    rf = write_payload(tmp, "rf", predict_request("rf", airbnb_record()))
    pg = write_payload(tmp, "pg", predict_request("penguins", PENGUIN))
    rf_batch = write_payload(tmp, "rf_batch", batch_request("rf", airbnb_records(1000)))
    pg_batch = write_payload(tmp, "pg_batch", batch_request("penguins", penguin_records(1000)))
    xg = write_payload(tmp, "xg", predict_request("xgb", PENGUIN))
    xg_batch = write_payload(tmp, "xg_batch", batch_request("xgb", penguin_records(1000)))
    ms = lambda s: f"{s * 1000:.3f} ms"  # noqa: E731
    say = lambda *a: print(*a, file=sys.stderr, flush=True)  # noqa: E731
    rows: list[tuple[str, str, str]] = []
    lat = {key: [] for key in ("empty_rf", "empty_pg", "rf", "pg", "xgb")}
    thr = {}

    say("empty-handler server and leapserve --workers 1, side by side ...")
    with empty_server(tmp) as empty, leapserve_server(1, tmp, xgb=has_xgb) as leap:
        wait_serving(empty, leap)
        for r in range(rounds):
            say(f"  round {r + 1}/{rounds}")
            for key, srv, payload in (("empty_rf", empty, rf), ("rf", leap, rf),
                                      ("empty_pg", empty, pg), ("pg", leap, pg),
                                      *((("xgb", leap, xg),) if has_xgb else ())):
                lat[key].append(run_client("--client-latency", srv.address, PREDICT, payload, count, warmup))
        batch = {name: run_client("--client-latency", leap.address, PREDICT_BATCH, payload, 10, 2)
                 for name, payload in (("rf", rf_batch), ("pg", pg_batch),
                                       *((("xgb", xg_batch),) if has_xgb else ()))}
        for c in (8, 32):
            for r in range(max(2, rounds // 2)):
                thr.setdefault(("empty", c), []).append(throughput(empty.address, rf, c, duration))
                thr.setdefault((1, c), []).append(throughput(leap.address, rf, c, duration))
    say("leapserve --workers 2 ...")
    with empty_server(tmp) as empty, leapserve_server(2, tmp) as leap2:
        wait_serving(empty, leap2)
        for c in (8, 32):
            for r in range(max(2, rounds // 2)):
                thr.setdefault(("empty2", c), []).append(throughput(empty.address, rf, c, duration))
                thr.setdefault((2, c), []).append(throughput(leap2.address, rf, c, duration))

    def ratio(key, base):
        return statistics.median(a["p50"] / b["p50"] for a, b in zip(lat[key], lat[base]))

    for label, key, base in (("airbnb RF", "rf", "empty_rf"), ("penguins", "pg", "empty_pg")):
        e, m = pooled(lat[base]), pooled(lat[key])
        rows.append((f"empty handler, {label} messages: p50 / p99 (c=1)", f"{ms(e['p50'])} / {ms(e['p99'])}",
                     "floor"))
        rows.append((f"Predict {label}: p50 / p99 (c=1)", f"{ms(m['p50'])} / {ms(m['p99'])}",
                     f"p50 {ratio(key, base):.2f}x empty (target <= 1.3x); p99 target < 2 ms"))
    if has_xgb:
        m = pooled(lat["xgb"])
        rows.append(("Predict penguins XGBoost (100 trees, depth 6): p50 / p99 (c=1)",
                     f"{ms(m['p50'])} / {ms(m['p99'])}", f"p50 {ratio('xgb', 'empty_pg'):.2f}x empty"))
    for c in (8, 32):
        e = statistics.median(thr[("empty", c)])
        rows.append((f"empty handler: requests/s (c={c})", f"{e:,.0f}", "floor"))
        for workers, base in ((1, "empty"), (2, "empty2")):
            v = statistics.median(thr[(workers, c)])
            rel = statistics.median(a / b for a, b in zip(thr[(workers, c)], thr[(base, c)]))
            rows.append((f"Predict airbnb RF: requests/s (c={c}, --workers {workers})", f"{v:,.0f}",
                         f"{rel:.2f}x the empty handler (1 process); target >= 4,000"))
    rf_rows = 1000 / batch["rf"]["p50"]
    pg_rows = 1000 / batch["pg"]["p50"]
    rows.append(("PredictBatch airbnb RF, 1,000 records: rows/s", f"{rf_rows:,.0f}", f"{ms(batch['rf']['p50'])} per call"))
    rows.append(("PredictBatch penguins, 1,000 records: rows/s", f"{pg_rows:,.0f}", f"{ms(batch['pg']['p50'])} per call"))
    if has_xgb:
        xg_rows = 1000 / batch["xgb"]["p50"]
        rows.append(("PredictBatch penguins XGBoost, 1,000 records: rows/s", f"{xg_rows:,.0f}",
                     f"{ms(batch['xgb']['p50'])} per call"))
    if not args.skip_spark:
        say("Spark local mode ...")
        spark = spark_numbers(10 if args.quick else 40)
        pg_p50 = pooled(lat["pg"])["p50"]
        rows.append(("Spark local mode, penguins, one record: latency p50", ms(spark["one_p50"]),
                     f"{spark['one_p50'] / pg_p50:.0f}x leapserve Predict"))
        rows.append(("Spark local mode, penguins, 1,000 records: rows/s", f"{spark['rows_per_s']:,.0f}",
                     f"PredictBatch penguins is {pg_rows / spark['rows_per_s']:.1f}x (target > 1x)"))
        if has_xgb:
            sx = spark_numbers(10 if args.quick else 40, XGB_DIR / "spark-model", ("prediction", "probability"))
            xg_p50 = pooled(lat["xgb"])["p50"]
            rows.append(("Spark local mode, penguins XGBoost, one record: latency p50", ms(sx["one_p50"]),
                         f"{sx['one_p50'] / xg_p50:.0f}x leapserve Predict"))
            rows.append(("Spark local mode, penguins XGBoost, 1,000 records: rows/s", f"{sx['rows_per_s']:,.0f}",
                         f"PredictBatch penguins XGBoost is {xg_rows / sx['rows_per_s']:.1f}x"))
    return rows


def main(argv=None) -> int:
    if argv is None:
        argv = sys.argv[1:]
    if argv and argv[0] == "--serve-empty":
        serve_empty(int(argv[1]))
        return 0
    if argv and argv[0] == "--serve-empty-leapserve":
        return serve_empty_leapserve(argv[1:])
    if argv and argv[0] == "--client-latency":
        client_latency(argv[1], argv[2], Path(argv[3]), int(argv[4]), int(argv[5]))
        return 0
    if argv and argv[0] == "--client-throughput":
        client_throughput(argv[1], argv[2], Path(argv[3]), int(argv[4]), float(argv[5]))
        return 0
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="shorter runs")
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    parser.add_argument("--skip-spark", action="store_true", help="leave out Spark local mode")
    parser.add_argument("--ghz", action="store_true",
                        help="only Predict p50 against an empty handler of the same server, measured with ghz")
    parser.add_argument("--event-loops", action="store_true",
                        help="only requests per second with ghz on uvloop and on asyncio's loop")
    parser.add_argument("--streams", type=int, metavar="N", help="only the server's memory per open PredictStream")
    args = parser.parse_args(argv)
    load_before = os.getloadavg()[0]
    rows = (measure_ghz(args) if args.ghz else measure_event_loops(args) if args.event_loops
            else measure_streams(args) if args.streams else measure(args))
    print_table(rows, args.markdown, (load_before, os.getloadavg()[0]), "leapserve gRPC benchmark",
                f"grpcio {__import__('grpc').__version__}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
