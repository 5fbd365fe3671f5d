"""Peak memory of one `leapserve serve` process scoring the largest batches its limits allow, all at
once: the per-request term of docs/deploy.md's memory formula.

    .venv/bin/python bench/batch_memory.py --rows 10000 --threads 4
    .venv/bin/python bench/batch_memory.py --rows 20000 --threads 1 --threads 4

The server (this checkout's, one worker) serves the airbnb random forest fixture with
--max-batch-rows ROWS and --threads T; T clients each send a PredictBatch of ROWS airbnb records at
the same moment, --rounds times. Printed: the request's size, the resident memory at SERVING
(VmRSS), the peak (VmHWM) after the rounds, and (peak - base) / T, what one request in flight adds.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:] = [str(REPO)] + [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import grpc  # noqa: E402 (after the path: bench/grpc.py is a benchmark, not the library)

from tests.support.bundles import RF_ZIP, airbnb_record  # noqa: E402
from tests.support.processes import proc_status  # noqa: E402
from tests.support.servers import ServerProcess, batch_request, free_port, prediction_stub  # noqa: E402


def measure(rows: int, threads: int, rounds: int) -> dict:
    port = free_port()
    address = f"127.0.0.1:{port}"
    request = batch_request("rf", [airbnb_record()] * rows)
    size = request.ByteSize()
    with tempfile.TemporaryDirectory() as tmp:
        args = ["--model", f"rf={RF_ZIP}", "--port", port, "--threads", threads, "--max-batch-rows", rows,
                "--max-message-size", max(size * 2, 4 << 20)]
        with ServerProcess(args, Path(tmp) / "server.log", address) as server:
            server.wait_health("SERVING")
            base = proc_status(server.proc.pid)
            channel = grpc.insecure_channel(address, options=[("grpc.max_receive_message_length", -1),
                                                              ("grpc.max_send_message_length", -1)])
            stub = prediction_stub(channel)
            errors = []

            def call():
                try:
                    r = stub.PredictBatch(request, timeout=300)
                    assert len(r.results) == rows
                except Exception as e:  # noqa: BLE001
                    errors.append(e)

            for _ in range(rounds):
                clients = [threading.Thread(target=call) for _ in range(threads)]
                for c in clients:
                    c.start()
                for c in clients:
                    c.join()
            peak = proc_status(server.proc.pid)
            channel.close()
            if errors:
                raise SystemExit(f"{len(errors)} calls failed: {errors[0]}")
    base_mb = int(base["VmRSS"].split()[0]) / 1024
    hwm_mb = int(peak["VmHWM"].split()[0]) / 1024
    return {"rows": rows, "threads": threads, "request_mb": size / 2**20, "base_mb": base_mb,
            "peak_mb": hwm_mb, "per_request_mb": (hwm_mb - base_mb) / threads}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, action="append")
    p.add_argument("--threads", type=int, action="append")
    p.add_argument("--rounds", type=int, default=3)
    a = p.parse_args()
    for rows in a.rows or [10_000]:
        for threads in a.threads or [4]:
            m = measure(rows, threads, a.rounds)
            print(f"rows={m['rows']} threads={m['threads']} request={m['request_mb']:.1f} MiB "
                  f"base={m['base_mb']:.0f} MiB peak={m['peak_mb']:.0f} MiB "
                  f"per request={m['per_request_mb']:.0f} MiB", flush=True)


if __name__ == "__main__":
    main()
