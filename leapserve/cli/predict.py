"""`leapserve predict`: score records with a running server and print the outputs as JSON.

    leapserve predict --address localhost:50051 --model penguins --json '{"bill_length_mm": 39.1, ...}'
    leapserve predict --address unix:/tmp/leapserve.sock --model m --file records.jsonl

One JSON object per input record, one line of outputs per record. Which model version answered is
said on standard error ("model NAME version V answered"; again whenever it changes), so that
standard output holds only the outputs. In JSON, a list is a list value
(or a dense vector, for vector fields), {"values": [...]} a dense vector and {"size": n,
"indices": [...], "values": [...]} a sparse one.
"""

from __future__ import annotations

import json
import sys

from leapserve.server.tls import add_client_arguments, client_channel
from .environment import default_client_address, env

HELP = "score records with a running leapserve server and print the outputs"


def add_arguments(p) -> None:
    p.add_argument("--address", default=default_client_address(),
                   help="HOST:PORT or unix:PATH (default: LEAPSERVE_ADDRESS, else the server's own LEAPSERVE_* "
                        "settings (Unix socket, host and port), else 127.0.0.1:50051)")
    p.add_argument("--model", required=env("--model-name") is None, default=env("--model-name"),
                   help="model name [LEAPSERVE_MODEL_NAME]")
    p.add_argument("--version", default="", help="model version (default: the served default)")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--json", metavar="OBJECT", help="one record as a JSON object")
    src.add_argument("--file", metavar="PATH", help="records, one JSON object a line ('-': standard input)")
    p.add_argument("--output", action="append", metavar="FIELD", help="only these outputs (repeatable)")
    p.add_argument("--batch-size", type=int, default=1000, help="records per PredictBatch call with --file")
    p.add_argument("--timeout", type=float, default=env("--timeout", 30.0, float), help="seconds per call")
    add_client_arguments(p)


def _record(text: str, where: str):
    try:
        record = json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"{where}: invalid JSON ({e})") from None
    if not isinstance(record, dict):
        raise ValueError(f"{where}: expected a JSON object, got {type(record).__name__}")
    return record


def _fill(fields, record: dict) -> None:
    from leapserve.server.codec import json_to_value

    for key, value in record.items():
        json_to_value(fields[key], value, key)


def _outputs_json(out_map) -> dict:
    from leapserve.server.codec import value_to_json

    return {k: value_to_json(v) for k, v in out_map.items()}


class VersionNote:
    """Says on standard error which version answered, once, and again whenever it changes (a
    reload or a new default between two batches)."""

    def __init__(self, model: str):
        self.model = model
        self.last = None

    def __call__(self, version: str) -> None:
        if version != self.last:
            self.last = version
            print(f"leapserve predict: model {self.model} version {version} answered", file=sys.stderr)


def _rpc_error(e) -> str:
    return f"{e.code().name}: {e.details()}"


def run(args) -> int:
    import grpc

    from leapserve.v1 import prediction_pb2 as pb
    from leapserve.v1 import prediction_pb2_grpc as pb_grpc

    outputs = args.output or []
    try:
        channel = client_channel(args.address, args)
    except (OSError, ValueError) as e:  # unreadable TLS files
        print(f"leapserve predict: {e}", file=sys.stderr)
        return 2
    stub = pb_grpc.PredictionServiceStub(channel)
    try:
        if args.json is not None:
            try:
                record = _record(args.json, "--json")
                request = pb.PredictRequest(model=args.model, version=args.version, outputs=outputs)
                _fill(request.inputs, record)
            except ValueError as e:
                print(f"leapserve predict: {e}", file=sys.stderr)
                return 2
            try:
                response = stub.Predict(request, timeout=args.timeout)
            except grpc.RpcError as e:
                print(f"leapserve predict: {_rpc_error(e)}", file=sys.stderr)
                return 1
            VersionNote(args.model)(response.version)
            print(json.dumps(_outputs_json(response.outputs)))
            return 0
        return _run_file(args, stub, pb, outputs)
    finally:
        channel.close()


def _run_file(args, stub, pb, outputs) -> int:
    import grpc

    stream = sys.stdin if args.file == "-" else open(args.file, encoding="utf-8")
    failed = 0
    answered = VersionNote(args.model)
    try:
        chunk: list[dict] = []
        lines = (line for line in stream)
        number = 0
        while True:
            chunk.clear()
            for line in lines:
                number += 1
                if line.strip():
                    try:
                        chunk.append(_record(line, f"line {number}"))
                    except ValueError as e:
                        print(f"leapserve predict: {e}", file=sys.stderr)
                        return 2
                    if len(chunk) >= args.batch_size:
                        break
            if not chunk:
                break
            request = pb.PredictBatchRequest(model=args.model, version=args.version, outputs=outputs)
            for record in chunk:
                try:
                    _fill(request.records.add().fields, record)
                except ValueError as e:
                    print(f"leapserve predict: {e}", file=sys.stderr)
                    return 2
            try:
                response = stub.PredictBatch(request, timeout=args.timeout)
            except grpc.RpcError as e:
                print(f"leapserve predict: {_rpc_error(e)}", file=sys.stderr)
                return 1
            answered(response.version)
            for row in response.results:
                if row.outcome == pb.RowResult.OK:
                    print(json.dumps(_outputs_json(row.outputs)))
                else:
                    failed += 1
                    kind = "skipped" if row.outcome == pb.RowResult.SKIPPED else "error"
                    print(json.dumps({kind: row.status.message}))
            sys.stdout.flush()
    finally:
        if stream is not sys.stdin:
            stream.close()
    return 1 if failed else 0
