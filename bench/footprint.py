"""What a leapserve sidecar costs in every application pod: memory, start-up time, image size.

    .venv/bin/python bench/footprint.py                 # builds the image's virtual environment first
    .venv/bin/python bench/footprint.py --venv DIR      # an environment made by deploy/image/install-serving.sh
    .venv/bin/python bench/footprint.py --markdown      # the table of docs/deploy.md

The server measured is the image's install: a fresh virtual environment made by
deploy/image/install-serving.sh (the script the Dockerfile runs; it needs the package index), its
modules compiled as in the image. For each case the server is started `--runs` times and measured:

* start to SERVING: wall time from starting the process to the first health check answering
  SERVING (polled every 5 ms), and the CPU time the server used by then (user + system: on a busy
  machine the wall time includes waiting for a core, the CPU time does not);
* resident memory (VmRSS) at SERVING and after 2,000 Predict calls, and its peak (VmHWM).

Cases: the airbnb random forest fixture alone, and ten copies of it as ten models (--model-dir).
The image's size is estimated as the size of the installed virtual environment (what the image adds
to its base) plus the published size of the base image, python:3.11-slim (--base-mb, uncompressed,
as `docker images` shows it; --base-compressed-mb, as the registry stores it). Targets: under
150 MB resident with one model, under 1 s from start to SERVING, image under 250 MB.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:] = [str(REPO)] + [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from tests.support.bundles import RF_ZIP, airbnb_record  # noqa: E402
from tests.support.dockerfile import build_context  # noqa: E402
from tests.support.processes import proc_status  # noqa: E402
from tests.support.servers import free_port  # noqa: E402

INSTALL = REPO / "deploy" / "image" / "install-serving.sh"
BASE_IMAGE = "python:3.11-slim"
# python:3.11-slim (Debian bookworm, linux/amd64) as published: about 130 MB unpacked, about 45 MB
# compressed. Not measured here (no Docker engine): pass the current figures with --base-mb.
BASE_MB = 130.0
BASE_COMPRESSED_MB = 45.0


def build_venv(dest: Path) -> Path:
    context = build_context(dest.parent / "context")
    env = dict(os.environ, PYTHON=sys.executable)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    subprocess.run(["sh", str(INSTALL), str(dest), str(context)], check=True, env=env)
    return dest


def tree_bytes(path: Path) -> int:
    total = 0
    for root, dirs, files in os.walk(path):
        for name in files + dirs:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                pass
    return total


def compressed_bytes(path: Path) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        archive = Path(tmp) / "venv.tar.gz"
        with tarfile.open(archive, "w:gz") as tar:
            tar.add(path, arcname=path.name)
        return archive.stat().st_size


def proc_stats(pid: int) -> dict:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    status = proc_status(pid)
    return {"cpu": (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"),
            "rss_mb": int(status["VmRSS"].split()[0]) / 1024, "hwm_mb": int(status["VmHWM"].split()[0]) / 1024}


def measure_once(leapserve: Path, model_args: list[str], calls: int, record: dict, nice: int = 0) -> dict:
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    from leapserve.v1 import prediction_pb2 as pb
    from leapserve.server.codec import encode_value

    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEAPSERVE_")}
    env["PYTHONDONTWRITEBYTECODE"] = "1"  # as in the image: compiled at build time, read-only at run time
    started = time.perf_counter()
    prefix = ["nice", "-n", str(nice)] if nice else []
    proc = subprocess.Popen([*prefix, str(leapserve), "serve", "--port", str(port), "--reload-interval", "0",
                             "--log-level", "warning", *model_args], env=env, cwd=tempfile.gettempdir(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        # Reconnect at once while the port is closed (gRPC's default backoff waits a second or more).
        options = [("grpc.initial_reconnect_backoff_ms", 5), ("grpc.min_reconnect_backoff_ms", 5),
                   ("grpc.max_reconnect_backoff_ms", 20)]
        with grpc.insecure_channel(f"127.0.0.1:{port}", options=options) as ch:
            stub = health_pb2_grpc.HealthStub(ch)
            while True:
                if proc.poll() is not None:
                    raise SystemExit(f"server exited with {proc.returncode}")
                try:
                    if stub.Check(health_pb2.HealthCheckRequest(), timeout=1).status == 1:
                        break
                except grpc.RpcError:
                    pass
                time.sleep(0.005)
            wall = time.perf_counter() - started
            at_serving = proc_stats(proc.pid)
            request = pb.PredictRequest(model=model_args[-1].split("=")[0] if model_args[0] == "--model" else "rf0")
            for k, v in record.items():
                encode_value(request.inputs[k], v)
            data = request.SerializeToString()
            call = ch.unary_unary("/leapserve.v1.PredictionService/Predict")
            for _ in range(calls):
                call(data, timeout=10)
            after = proc_stats(proc.pid)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return {"wall": wall, "cpu": at_serving["cpu"], "rss": at_serving["rss_mb"], "rss_after": after["rss_mb"],
            "hwm": after["hwm_mb"]}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--venv", type=Path, help="an environment made by deploy/image/install-serving.sh "
                                                   "(default: build a fresh one)")
    parser.add_argument("--runs", type=int, default=5, help="starts per case (default 5; medians are reported)")
    parser.add_argument("--calls", type=int, default=2000, help="Predict calls before the second memory reading")
    parser.add_argument("--base-mb", type=float, default=BASE_MB, help=f"{BASE_IMAGE} unpacked, MB")
    parser.add_argument("--base-compressed-mb", type=float, default=BASE_COMPRESSED_MB,
                        help=f"{BASE_IMAGE} compressed, MB")
    parser.add_argument("--nice", type=int, default=0, metavar="N",
                        help="also measure start-up with the server at this niceness (e.g. -10, as root): on a "
                             "busy shared machine, an estimate of the wall time on an idle one")
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args(argv)

    record = airbnb_record()
    work = Path(tempfile.mkdtemp(prefix="leapserve-footprint-"))
    try:
        if args.venv is None:
            print("building the image's virtual environment (deploy/image/install-serving.sh) ...", file=sys.stderr)
            venv = build_venv(work / "venv")
        else:
            venv = args.venv
        leapserve = venv / "bin" / "leapserve"
        ten = work / "models"
        ten.mkdir()
        for i in range(10):
            shutil.copyfile(RF_ZIP, ten / f"rf{i}.zip")
        cases = [("1 model (airbnb RF)", ["--model", f"rf={RF_ZIP}"]),
                 ("10 models (10 x airbnb RF)", ["--model-dir", str(ten)])]
        load_before = os.getloadavg()[0]
        results = {}
        for name, model_args in cases:
            print(f"{name}: {args.runs} starts ...", file=sys.stderr)
            runs = [measure_once(leapserve, model_args, args.calls, record) for _ in range(args.runs)]
            results[name] = {k: statistics.median(r[k] for r in runs) for k in runs[0]} | \
                {"wall_min": min(r["wall"] for r in runs)}
            if args.nice:
                favoured = [measure_once(leapserve, model_args, 10, record, args.nice) for _ in range(args.runs)]
                results[name]["wall_nice"] = statistics.median(r["wall"] for r in favoured)
        venv_mb = tree_bytes(venv) / 1e6
        venv_gz_mb = compressed_bytes(venv) / 1e6
        load_after = os.getloadavg()[0]
    finally:
        shutil.rmtree(work, ignore_errors=True)

    rows = []
    for name, r in results.items():
        rows.append((f"{name}: start to SERVING (wall, median / best)", f"{r['wall']:.2f} s / {r['wall_min']:.2f} s",
                     "target < 1 s" if name.startswith("1 model") else ""))
        if "wall_nice" in r:
            rows.append((f"{name}: start to SERVING at nice {args.nice} (wall, median)", f"{r['wall_nice']:.2f} s",
                         "the machine's other load mostly out of the way"))
        rows.append((f"{name}: CPU time to SERVING", f"{r['cpu']:.2f} s", ""))
        rows.append((f"{name}: resident memory at SERVING", f"{r['rss']:.0f} MB",
                     "target < 150 MB" if name.startswith("1 model") else ""))
        rows.append((f"{name}: resident memory after {args.calls} Predict calls (peak)",
                     f"{r['rss_after']:.0f} MB ({r['hwm']:.0f} MB)", ""))
    rows.append(("serving virtual environment (/opt/leapserve)", f"{venv_mb:.0f} MB ({venv_gz_mb:.0f} MB gzipped)", ""))
    rows.append((f"image estimate: {BASE_IMAGE} + environment", f"{args.base_mb + venv_mb:.0f} MB "
                 f"({args.base_compressed_mb + venv_gz_mb:.0f} MB compressed)",
                 f"target < 250 MB; base taken as {args.base_mb:.0f} MB / {args.base_compressed_mb:.0f} MB"))
    busy = f"load average {load_before:.1f} before, {load_after:.1f} after, {os.cpu_count()} cores"
    if args.markdown:
        print(f"Measured {date.today().isoformat()}, {busy}.\n")
        print("| measurement | value | |")
        print("|---|---|---|")
        for row in rows:
            print("| " + " | ".join(row) + " |")
    else:
        print(f"leapserve footprint, {date.today().isoformat()}, {busy}")
        width = max(len(r[0]) for r in rows)
        for name, v, note in rows:
            print(f"{name:<{width}}  {v:>22}  {note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
