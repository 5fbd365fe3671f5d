"""`leapserve predict`: score records with a running server and print the outputs as JSON.

    leapserve predict --address localhost:50051 --model penguins --json '{"bill_length_mm": 39.1, ...}'
    leapserve predict --address unix:/tmp/leapserve.sock --model m --file records.jsonl --select prediction

One JSON object per input record, one line of outputs per record, in the order of the records.
Which model version answered is said on standard error ("model NAME version V answered"; again
whenever it changes), so that standard output holds only the outputs. In JSON, a list is a list value (or a dense vector, for vector fields), {"values": [...]} a dense
vector and {"size": n, "indices": [...], "values": [...]} a sparse one. The outputs of a line are
in the order ``--select`` names them, else in the pipeline's order.

With ``--file``, records go to PredictBatch ``--batch-size`` at a time; a record the model refuses
(or a line that is not a JSON object) prints {"error": "line N, ...", "line": N} in its place, N
being its line in the file (1-based, blank lines counted), and the command goes on with the next.
"""

from __future__ import annotations

import argparse
import json
import re
import sys

from .environment import default_client_address, env
from .errors import FAILURE, OK, UNREACHABLE, USAGE, one_line, print_error
from .options import add_old_name, flat_names, names

HELP = "score records with a running leapserve server and print the outputs"
DEBUG_HELP = "on an unexpected failure, show the Python traceback"
EPILOG = """\
exit codes:
  0  every record was scored
  1  a record was refused (its output line says why, with its line number), or the server
     refused the call (unknown model or output, limits)
  2  usage: wrong arguments or LEAPSERVE_* variable, --file unreadable, --json not a JSON object
  3  the server did not answer at --address

environment (a flag on the command line wins):
  LEAPSERVE_ADDRESS     --address; else LEAPSERVE_UDS, LEAPSERVE_HOST and LEAPSERVE_PORT, as serve reads them
  LEAPSERVE_MODEL_NAME  --model
  LEAPSERVE_TIMEOUT     --timeout
"""

_ROW = re.compile(r"row (\d+)(?=[ ,:])")  # how the server names a record of a batch (0-based)


def add_arguments(p) -> None:
    from leapserve.server.tls import add_client_arguments

    p.add_argument("--address", default=default_client_address(),
                   help="HOST:PORT or unix:PATH (default: LEAPSERVE_ADDRESS, else the server's own LEAPSERVE_* "
                        "settings (Unix socket, host and port), else 127.0.0.1:50051)")
    p.add_argument("--model", required=env("--model-name") is None, default=env("--model-name"),
                   help="model name [LEAPSERVE_MODEL_NAME]")
    p.add_argument("--version", default="", help="model version (default: the version the server serves by default)")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--json", metavar="OBJECT", help="one record as a JSON object")
    src.add_argument("--file", metavar="PATH", help="records, one JSON object a line ('-': standard input)")
    p.add_argument("--select", action="extend", nargs="+", metavar="FIELD", type=names,
                   help="print only these outputs, in this order (names separated by spaces or commas; "
                        "repeatable) (default: every output, in pipeline order)")
    add_old_name(p, "--output", "--select", action=argparse._ExtendAction, type=names)  # its old name
    p.add_argument("--batch-size", type=int, default=1000, metavar="N",
                   help="records per PredictBatch call with --file (default 1000)")
    p.add_argument("--timeout", type=float, default=env("--timeout", 30.0, float), metavar="SECONDS",
                   help="seconds per call (default 30) [LEAPSERVE_TIMEOUT]")
    add_client_arguments(p)


def selected(args) -> list[str]:
    """The outputs asked for, in order, each once."""
    return flat_names(args.select)


# --- records in ------------------------------------------------------------------------------

class RecordError(ValueError):
    """A record the command cannot send (not JSON, not an object, a value with no encoding)."""


def _record(text: str, where: str) -> dict:
    try:
        record = json.loads(text)
    except json.JSONDecodeError as e:
        raise RecordError(f"{where}: invalid JSON ({e})") from None
    except RecursionError:  # Python's json parser recurses once per level
        raise RecordError(f"{where}: JSON nested too deeply") from None
    if not isinstance(record, dict):
        raise RecordError(f"{where}: expected a JSON object, got {type(record).__name__}")
    return record


def _fill(fields, record: dict, where: str) -> None:
    from leapserve.server.codec import json_to_value

    for key, value in record.items():
        try:
            json_to_value(fields[key], value, key)
        except (ValueError, TypeError, OverflowError) as e:
            raise RecordError(f"{where}: {e}") from None  # the error names the field
        except RecursionError:  # parsed (Python 3.13's json goes deeper than 3.11's), too deep to send
            raise RecordError(f"{where}: JSON nested too deeply") from None


def _open(path: str):
    """The binary stream of --file, or a usage error naming it."""
    if path == "-":
        return sys.stdin.buffer
    try:
        return open(path, "rb")
    except FileNotFoundError:
        raise RecordError(f"--file {path}: no such file") from None
    except IsADirectoryError:
        raise RecordError(f"--file {path}: is a directory, not a file of records") from None
    except OSError as e:
        raise RecordError(f"--file {path}: cannot read it: {e.strerror or e}") from None


def _lines(stream):
    """(line number, record or RecordError) for each line that is not blank; numbers are 1-based."""
    for number, raw in enumerate(stream, 1):
        where = f"line {number}"
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            yield number, RecordError(f"{where}: not UTF-8 text ({e.reason} at byte {e.start})")
            continue
        if not text.strip():
            continue
        try:
            yield number, _record(text, where)
        except RecordError as e:
            yield number, e


# --- outputs -------------------------------------------------------------------------------

class OutputOrder:
    """The order outputs are printed in: --select's, else the pipeline's (from GetModelMetadata,
    asked once per version that answers; a protobuf map keeps no order)."""

    def __init__(self, stub, pb, model: str, wanted: list[str], timeout: float):
        self.stub, self.pb, self.model, self.timeout = stub, pb, model, timeout
        self.wanted = wanted
        self._pipeline: dict[str, list[str]] = {}

    def names(self, version: str) -> list[str]:
        if self.wanted:
            return self.wanted
        if version not in self._pipeline:
            import grpc

            try:
                meta = self.stub.GetModelMetadata(self.pb.GetModelMetadataRequest(model=self.model, version=version),
                                                  timeout=self.timeout)
                self._pipeline[version] = [f.name for f in meta.outputs]
            except grpc.RpcError:  # printed in the order received, rather than not at all
                self._pipeline[version] = []
        return self._pipeline[version]

    def json(self, out_map, version: str) -> dict:
        from leapserve.server.codec import value_to_json

        order = self.names(version)
        keys = [k for k in order if k in out_map] + [k for k in out_map if k not in order]
        return {k: value_to_json(out_map[k]) for k in keys}


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


def _call_failed(e, where: str, address: str) -> int:
    import grpc

    if e.code() == grpc.StatusCode.UNAVAILABLE:
        print_error("predict", f"{where}no answer from {address}: {_rpc_error(e)}")
        return UNREACHABLE
    print_error("predict", f"{where}{_rpc_error(e)}")
    return FAILURE


def _row_message(message: str, index: int, line: int) -> str:
    """The server's message about record ``index`` of a batch, naming the record's line instead."""
    m = _ROW.match(message)
    if m and int(m.group(1)) == index:
        return f"line {line}" + message[m.end():]
    return f"line {line}: {message}"


# --- the command -----------------------------------------------------------------------------

def run(args) -> int:
    from leapserve.server.tls import client_channel

    if args.batch_size < 1:
        print_error("predict", f"--batch-size {args.batch_size}: expected at least 1")
        return USAGE
    if not args.timeout > 0:
        print_error("predict", f"--timeout {args.timeout}: expected seconds > 0")
        return USAGE
    stream = None
    if args.file is not None:
        try:
            stream = _open(args.file)
        except RecordError as e:
            print_error("predict", str(e))
            return USAGE
    try:
        try:
            channel = client_channel(args.address, args)
        except (OSError, ValueError) as e:  # unreadable TLS files
            print_error("predict", str(e))
            return USAGE
        with channel:
            if stream is None:
                return _run_one(args, channel)
            return _run_file(args, channel, stream)
    finally:
        if stream is not None and stream is not sys.stdin.buffer:
            stream.close()


def _run_one(args, channel) -> int:
    import grpc

    from leapserve.v1 import prediction_pb2 as pb
    from leapserve.v1 import prediction_pb2_grpc as pb_grpc

    stub = pb_grpc.PredictionServiceStub(channel)
    wanted = selected(args)
    request = pb.PredictRequest(model=args.model, version=args.version, outputs=wanted)
    try:
        _fill(request.inputs, _record(args.json, "--json"), "--json")
    except RecordError as e:
        print_error("predict", str(e))
        return USAGE
    try:
        response = stub.Predict(request, timeout=args.timeout)
    except grpc.RpcError as e:
        return _call_failed(e, "", args.address)
    VersionNote(args.model)(response.version)
    order = OutputOrder(stub, pb, args.model, wanted, args.timeout)
    print(json.dumps(order.json(response.outputs, response.version)))
    return OK


def _run_file(args, channel, stream) -> int:
    import grpc

    from leapserve.v1 import prediction_pb2 as pb
    from leapserve.v1 import prediction_pb2_grpc as pb_grpc

    stub = pb_grpc.PredictionServiceStub(channel)
    wanted = selected(args)
    order = OutputOrder(stub, pb, args.model, wanted, args.timeout)
    answered = VersionNote(args.model)
    failed: list[int] = []
    count = 0
    lines = _lines(stream)
    while True:
        # One batch: up to --batch-size lines, each a record to send or an error to print in place.
        chunk: list[tuple[int, object]] = []
        for number, item in lines:
            chunk.append((number, item))
            if len(chunk) >= args.batch_size:
                break
        if not chunk:
            break
        request = pb.PredictBatchRequest(model=args.model, version=args.version, outputs=wanted)
        sent: list[int] = []  # line number of each record in the request
        for k, (number, item) in enumerate(chunk):
            if isinstance(item, RecordError):
                continue
            try:
                _fill(request.records.add().fields, item, f"line {number}")
            except RecordError as e:
                del request.records[-1]
                chunk[k] = (number, e)
                continue
            sent.append(number)
        results = {}
        if sent:
            try:
                response = stub.PredictBatch(request, timeout=args.timeout)
            except grpc.RpcError as e:
                where = f"line {sent[0]}: " if len(sent) == 1 else f"lines {sent[0]}-{sent[-1]}: "
                return _call_failed(e, where, args.address)
            answered(response.version)
            results = dict(zip(sent, enumerate(response.results)))
        for number, item in chunk:
            count += 1
            if isinstance(item, RecordError):
                failed.append(number)
                print(json.dumps({"error": str(item), "line": number}))
                continue
            index, row = results[number]
            if row.outcome == pb.RowResult.OK:
                print(json.dumps(order.json(row.outputs, response.version)))
            else:
                failed.append(number)
                kind = "skipped" if row.outcome == pb.RowResult.SKIPPED else "error"
                print(json.dumps({kind: _row_message(row.status.message, index, number), "line": number}))
        sys.stdout.flush()
    if failed:
        shown = ", ".join(map(str, failed[:10])) + (f" and {len(failed) - 10} more" if len(failed) > 10 else "")
        print_error("predict", one_line(f"{len(failed)} of {count} records not scored (line{'s' if len(failed) > 1 else ''} "
                                        f"{shown}; see their output lines)"))
        return FAILURE
    return OK
