"""MLeap's Transform against PredictBatch: the same records, the same server, time per record.

    .venv/bin/python bench/mleap.py              # a table (about a minute)
    .venv/bin/python bench/mleap.py --markdown   # the same as Markdown (docs/benchmarks.md)
    .venv/bin/python bench/mleap.py --quick      # shorter, for a smoke test

One `leapserve serve` process on loopback serves MLeap's airbnb random forest and linear regression
fixtures (and the penguins example when build/examples holds it). A client process sends, in
alternating rounds, a PredictBatch of N records and a Transform of the same N records as an MLeap
frame (JSON and binary, written by tests/support/mleap_frames.py), the whole frame answered (every
output, as PredictBatch without outputs), and reads the answers as bytes. Reported: the median time
per call and per record, and Transform's time per record over PredictBatch's (the median of the
per-round ratios; the target is at most 1.0x: the frame path must not be slower per record).
Nothing here asserts: it reports.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:] = [str(REPO)] + [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from tests.support import mleap_frames as mf  # noqa: E402
from tests.support.bundles import FRAME, LR_ZIP, RF_ZIP  # noqa: E402
from tests.support.servers import ServerProcess, free_port  # noqa: E402
from tests.support.tables import print_table  # noqa: E402

PENGUINS = REPO / "build" / "examples" / "penguins_species" / "bundle-json.zip"
PREDICT_BATCH = "/leapserve.v1.PredictionService/PredictBatch"
TRANSFORM = "/ml.combust.mleap.pb.Mleap/Transform"
AIRBNB = json.loads(FRAME.read_bytes())
AIRBNB_FIELDS = [(f["name"], f["type"]) for f in AIRBNB["schema"]["fields"]]
PENGUIN_FIELDS = [("island", "string"), ("sex", "string"), ("bill_length_mm", "double"),
                  ("bill_depth_mm", "double"), ("flipper_length_mm", "double"), ("body_mass_g", "double")]


def airbnb_rows(n: int, seed: int = 0) -> list[list]:
    rng = random.Random(seed)
    names = [name for name, _ in AIRBNB_FIELDS]
    rows = []
    for _ in range(n):
        row = dict(zip(names, AIRBNB["rows"][0]))
        row.update(bathrooms=float(rng.randint(1, 3)), bedrooms=float(rng.randint(1, 5)),
                   square_feet=float(rng.randint(300, 3000)), state=rng.choice(["NY", "CA", "TX", "Other"]))
        rows.append([row[name] for name in names])
    return rows


def penguin_rows(n: int, seed: int = 0) -> list[list]:
    rng = random.Random(seed)
    return [[rng.choice(["Biscoe", "Dream", "Torgersen"]), rng.choice(["male", "female"]),
             round(rng.uniform(33, 58), 1), round(rng.uniform(13, 21), 1), float(rng.randint(172, 231)),
             float(rng.randint(2700, 6300))] for _ in range(n)]


def payloads(model: str, fields, rows) -> dict[str, tuple[str, bytes]]:
    """name -> (method, request bytes) of one model's cases."""
    from leapserve.mleap import mleap_pb2
    from leapserve.server.codec import encode_value
    from leapserve.v1 import prediction_pb2

    batch = prediction_pb2.PredictBatchRequest(model=model)
    for row in rows:
        record = batch.records.add().fields
        for (name, _), v in zip(fields, row):
            encode_value(record[name], v)
    out = {"PredictBatch": (PREDICT_BATCH, batch.SerializeToString())}
    for label, fmt, frame in (("Transform JSON", mf.JSON, mf.json_frame(fields, rows)),
                              ("Transform binary", mf.BINARY, mf.binary_frame(fields, rows))):
        request = mleap_pb2.TransformFrameRequest(model_name=model, format=fmt, frame=frame)
        out[label] = (TRANSFORM, request.SerializeToString())
    return out


def timed_calls(address: str, method: str, payload: bytes, count: int, warmup: int) -> float:
    """Median seconds per call at concurrency 1 (answers read as bytes, not parsed)."""
    import grpc

    with grpc.insecure_channel(address, options=[("grpc.max_receive_message_length", 64 << 20)]) as channel:
        call = channel.unary_unary(method)
        times = []
        for i in range(count + warmup):
            start = time.perf_counter()
            call(payload, timeout=60)
            if i >= warmup:
                times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure(args) -> list[tuple[str, str, str]]:
    import tempfile

    n = args.records
    rounds = 3 if args.quick else 7
    count, warmup = (5, 2) if args.quick else (15, 3)
    models = [("rf", RF_ZIP, AIRBNB_FIELDS, airbnb_rows(n)), ("lr", LR_ZIP, AIRBNB_FIELDS, airbnb_rows(n))]
    if PENGUINS.exists():
        models.append(("penguins", PENGUINS, PENGUIN_FIELDS, penguin_rows(n)))
    port = free_port()
    logs = Path(tempfile.mkdtemp(prefix="leapserve-bench-mleap-"))
    args_ = ["--port", port, "--reload-interval", "0", "--log-level", "warning", "--max-batch-rows", str(max(n, 1000)),
             "--max-message-size", "64M"]
    for name, path, _, _ in models:
        args_ += ["--model", f"{name}={path}"]
    rows = []
    with ServerProcess(args_, logs / "server.log", f"127.0.0.1:{port}") as server:
        server.wait_health("SERVING", timeout=120)
        for name, _, fields, data in models:
            cases = payloads(name, fields, data)
            times = {label: [] for label in cases}
            for r in range(rounds):
                print(f"  {name}: round {r + 1}/{rounds}", file=sys.stderr, flush=True)
                order = list(cases) if r % 2 == 0 else list(reversed(cases))  # alternate who goes first
                for label in order:
                    method, payload = cases[label]
                    times[label].append(timed_calls(server.address, method, payload, count, warmup))
            base = times["PredictBatch"]
            for label in cases:
                per_call = statistics.median(times[label])
                note = "baseline" if label == "PredictBatch" else \
                    f"{statistics.median(a / b for a, b in zip(times[label], base)):.2f}x PredictBatch per record (target <= 1.0x)"
                rows.append((f"{label}, {name}, {n:,} records: per call / per record",
                             f"{per_call * 1000:.2f} ms / {per_call / n * 1e6:.2f} us", note))
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="shorter runs")
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    parser.add_argument("--records", type=int, default=1000, help="records per call (default 1000)")
    args = parser.parse_args(argv)
    load_before = os.getloadavg()[0]
    rows = measure(args)
    import grpc

    print_table(rows, args.markdown, (load_before, os.getloadavg()[0]), "leapserve MLeap API benchmark",
                f"grpcio {grpc.__version__}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
