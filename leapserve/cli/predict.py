"""`leapserve predict`: score records with a running server and print the outputs as JSON.

    leapserve predict --address localhost:50051 --model penguins --json '{"bill_length_mm": 39.1, ...}'
    leapserve predict --address unix:/tmp/leapserve.sock --model m --file records.jsonl --select prediction

One JSON object per input record, one line of outputs per record, in the order of the records.
Which model version answered is said on standard error ("model NAME version V answered"; again
whenever it changes), so that standard output holds only the outputs. In JSON, a list is a list
value (or a dense vector, for vector fields), {"values": [...]} a dense vector and {"size": n,
"indices": [...], "values": [...]} a sparse one; outputs print dense vectors as lists. NaN and
infinities print as the strings "NaN", "Infinity", "-Infinity" (JSON has no such numbers). The
outputs of a line are in the order ``--select`` names them, else in the pipeline's order.

With ``--file``, records go to PredictBatch ``--batch-size`` at a time; a record the model refuses
(or a line that is not a JSON object) prints {"error": "line N, ...", "line": N} in its place, N
being its line in the file (1-based, blank lines counted), and the command goes on with the next.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys

from .environment import default_client_address, env
from .errors import FAILURE, OK, UNREACHABLE, USAGE, one_line, print_error
from .jsonvalues import jsonable
from .options import add_old_name, client_problem, flat_names, names

HELP = "score records with a running leapserve server and print the outputs"
DEBUG_HELP = ("on an unexpected failure, show the Python traceback; and let gRPC log its own lines on stderr "
              "(without it they are quiet, unless GRPC_VERBOSITY is set)")
EPILOG = """\
exit codes:
  0  every record was scored
  1  a record was refused (its output line says why, with its line number), or the server
     refused the call (unknown model or output, a model not ready, limits)
  2  usage: wrong arguments or LEAPSERVE_* variable, --file unreadable, --json not a JSON object
  3  the server did not answer at --address (or not within --timeout)

environment (a flag on the command line wins):
  LEAPSERVE_ADDRESS     --address; else LEAPSERVE_UDS, LEAPSERVE_HOST and LEAPSERVE_PORT, as serve reads them
  LEAPSERVE_MODEL_NAME  --model
  LEAPSERVE_TIMEOUT     --timeout
"""

_ROW = re.compile(r"row (\d+)(?=[ ,:])")  # how the server names a record of a batch (0-based)


def seconds_above_zero(text: str) -> float:
    """LEAPSERVE_TIMEOUT's value (the flag's is checked when the command runs, naming the flag)."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not value > 0:  # NaN too
        raise ValueError("expected a number of seconds > 0")
    return value


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
    p.add_argument("--timeout", type=float, default=env("--timeout", 30.0, seconds_above_zero), metavar="SECONDS",
                   help="seconds per call (default 30) [LEAPSERVE_TIMEOUT]")
    add_client_arguments(p)


def selected(args) -> list[str]:
    """The outputs asked for, in order, each once."""
    return flat_names(args.select)


# --- records in ------------------------------------------------------------------------------

class RecordError(ValueError):
    """A line or --json that is not a record (not JSON, not a JSON object)."""


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

def _json_outputs(outputs: dict) -> str:
    return json.dumps({k: jsonable(v) for k, v in outputs.items()}, allow_nan=False)


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


def _call_failed(e, where: str, args, client) -> int:
    """A leapserve.client.CallError of the whole call: exit 3 when nothing answered (in time), else 1
    with the server's message."""
    import grpc

    if e.code == grpc.StatusCode.UNAVAILABLE and not client.connected():
        print_error("predict", f"{where}no answer from {args.address}: {e}")
        return UNREACHABLE
    if e.code == grpc.StatusCode.DEADLINE_EXCEEDED:
        print_error("predict", f"{where}no answer from {args.address} within {args.timeout:g} s (--timeout)")
        return UNREACHABLE
    print_error("predict", f"{where}{e}")
    return FAILURE


def _row_message(message: str, index: int, line: int) -> str:
    """The message about record ``index`` of a batch ("row N ...", from the server or the client),
    naming the record's line instead."""
    m = _ROW.match(message)
    if m and int(m.group(1)) == index:
        return f"line {line}" + message[m.end():]
    return f"line {line}: {message}"


# --- the command -----------------------------------------------------------------------------

def run(args) -> int:
    from leapserve.client import Client
    from leapserve.server.tls import client_tls_options

    if args.batch_size < 1:
        print_error("predict", f"--batch-size {args.batch_size}: expected at least 1")
        return USAGE
    problem = client_problem(args)
    if problem:
        print_error("predict", problem)
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
            client = Client(args.address, timeout=args.timeout, **client_tls_options(args))
        except (OSError, ValueError) as e:  # unreadable TLS files
            print_error("predict", str(e))
            return USAGE
        with client:
            if stream is None:
                return _run_one(args, client)
            return _run_file(args, client, stream)
    finally:
        if stream is not None and stream is not sys.stdin.buffer:
            stream.close()


def _run_one(args, client) -> int:
    from leapserve.client import CallError, NestedTooDeeply

    try:
        record = _record(args.json, "--json")
        answer = client.predict(args.model, record, outputs=selected(args), version=args.version)
    except RecordError as e:
        print_error("predict", str(e))
        return USAGE
    except NestedTooDeeply:  # parsed (Python 3.13's json goes deeper than 3.11's), too deep to send
        print_error("predict", "--json: JSON nested too deeply")
        return USAGE
    except (ValueError, TypeError) as e:  # a value no leapserve.v1.Value holds: the error names the field
        print_error("predict", f"--json: {e}")
        return USAGE
    except CallError as e:
        return _call_failed(e, "", args, client)
    VersionNote(args.model)(answer.version)
    print(_json_outputs(answer.outputs))
    return OK


def _row_error(answer, index: int, line: int) -> str:
    """Why the record of ``line`` (``index`` in its batch) has no outputs."""
    from leapserve.client import NestedTooDeeply

    if isinstance(answer.error.__cause__, NestedTooDeeply):
        return f"line {line}: JSON nested too deeply"
    return _row_message(answer.error.message, index, line)


def _run_file(args, client, stream) -> int:
    from leapserve.client import CallError

    wanted = selected(args)
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
        given = [(number, item) for number, item in chunk if not isinstance(item, RecordError)]
        answers = {}
        if given:
            try:
                results = client.predict_batch(args.model, [item for _, item in given], outputs=wanted,
                                               version=args.version)
            except CallError as e:
                first, last = given[0][0], given[-1][0]
                return _call_failed(e, f"line {first}: " if len(given) == 1 else f"lines {first}-{last}: ",
                                    args, client)
            version = next((r.version for r in results if r.version), None)
            if version is not None:
                answered(version)
            answers = {number: (index, r) for index, ((number, _), r) in enumerate(zip(given, results))}
        for number, item in chunk:
            count += 1
            if isinstance(item, RecordError):
                failed.append(number)
                print(json.dumps({"error": str(item), "line": number}))
                continue
            index, answer = answers[number]
            if answer.ok:
                print(_json_outputs(answer.outputs))
            else:
                failed.append(number)
                kind = "skipped" if answer.skipped else "error"
                print(json.dumps({kind: _row_error(answer, index, number), "line": number}))
        sys.stdout.flush()
    if failed:
        shown = ", ".join(map(str, failed[:10])) + (f" and {len(failed) - 10} more" if len(failed) > 10 else "")
        print_error("predict", one_line(f"{len(failed)} of {count} records not scored (line{'s' if len(failed) > 1 else ''} "
                                        f"{shown}; see their output lines)"))
        return FAILURE
    return OK
