"""leapserve score: score a parquet or CSV data set on Spark with a bundle, offline, with the same
runtime the server uses (leapserve.bundler.scoring).

    leapserve score --bundle model.zip --input rows.parquet --output scored.parquet
                    [--master URL] [--outputs COL ...] [--on-error fail|null] [--force]

Local mode by default (LEAPSERVE_SPARK_MASTER, else local[2]); ``--master`` runs on any Spark
master (its executors need leapserve installed). The bundle and the paths are checked before Spark
starts. Progress (tasks done, rows read) goes to stderr; one summary line to stdout. Errors are one
line on stderr and exit code 1: with ``--on-error fail`` (the default) the first row the runtime
refuses names its field, value and position; with ``--on-error null`` such rows get null outputs
and a message in the error column.

CSV cannot hold vectors or arrays: in CSV output they are written as JSON text ([1.0,2.0] for a
vector, as dense values).
"""

from __future__ import annotations

import os
import re
import sys
import threading
import time
import traceback
from pathlib import Path

from .errors import one_line
from .progress import Progress

HELP = "score a parquet or CSV data set on Spark with a bundle (same runtime as the server)"

FORMATS = ("parquet", "csv")


def add_arguments(p) -> None:
    p.add_argument("--bundle", required=True, metavar="PATH",
                   help="the bundle: a .zip file, a directory, or a jar:file: URI")
    p.add_argument("--input", required=True, metavar="DATA",
                   help="rows to score: a parquet file or folder, or CSV with a header row (types inferred)")
    p.add_argument("--output", required=True, metavar="DATA", help="where to write the scored rows (a folder)")
    p.add_argument("--input-format", choices=FORMATS, help="default: from the name (.csv) or the content")
    p.add_argument("--output-format", choices=FORMATS, help="default: csv if --output ends in .csv, else parquet")
    p.add_argument("--outputs", nargs="+", metavar="COL",
                   help="only these output columns (default: every column the pipeline adds)")
    p.add_argument("--master", metavar="URL",
                   help="Spark master (default: LEAPSERVE_SPARK_MASTER, else local[2])")
    p.add_argument("--on-error", choices=("fail", "null"), default="fail",
                   help="a row the runtime refuses: fail the job (default) or write null outputs and an error column")
    p.add_argument("--error-column", default="score_error", metavar="NAME",
                   help="name of the error column with --on-error null (default: score_error)")
    p.add_argument("--force", action="store_true", help="replace --output if it exists")


class CommandError(Exception):
    """A user's mistake found by this command: one line, exit 1."""


def input_format(path: Path, given: str | None) -> str:
    if not path.exists():
        raise CommandError(f"--input {path}: no such file or directory")
    if given:
        return given
    if path.is_dir():
        names = [p.name.lower() for p in path.iterdir() if not p.name.startswith((".", "_"))]
        return "csv" if names and all(n.endswith(".csv") for n in names) else "parquet"
    if path.suffix.lower() == ".csv":
        return "csv"
    with open(path, "rb") as fh:
        return "parquet" if fh.read(4) == b"PAR1" else "csv"


def _outputs(args) -> list[str] | None:
    if not args.outputs:
        return None
    return [c.strip() for part in args.outputs for c in part.split(",") if c.strip()]


def csv_ready(df):
    """Vectors and arrays as JSON text, which CSV can hold."""
    from pyspark.ml.functions import vector_to_array
    from pyspark.ml.linalg import VectorUDT
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    columns = []
    for f in df.schema.fields:
        col = F.col(f"`{f.name}`")
        if isinstance(f.dataType, VectorUDT):
            col = F.to_json(vector_to_array(col))
        elif isinstance(f.dataType, T.ArrayType) and isinstance(f.dataType.elementType, VectorUDT):
            col = F.to_json(F.transform(col, lambda v: vector_to_array(v)))
        elif isinstance(f.dataType, (T.ArrayType, T.StructType, T.MapType)):
            col = F.to_json(col)
        columns.append(col.alias(f.name))
    return df.select(*columns)


def _row_failure(err) -> str | None:
    """The RowFailed message inside a failed Spark job's error, if that is why it failed."""
    found = re.findall(r"RowFailed: ([^\n]+)", str(err))
    return found[-1].strip() if found else None


class _Watch:
    """Polls Spark's status tracker and the row counter while the job runs; reports to progress."""

    def __init__(self, spark_context, counter, progress: Progress):
        self.sc = spark_context
        self.counter = counter
        self.progress = progress
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="leapserve-score-progress", daemon=True)
        self._last = None
        self._last_time = 0.0

    def _run(self) -> None:
        tracker = self.sc.statusTracker()
        while not self._stop.wait(0.5):
            try:
                done = total = 0
                for sid in tracker.getActiveStageIds():
                    info = tracker.getStageInfo(sid)
                    if info is not None:
                        done += info.numCompletedTasks
                        total += info.numTasks
                rows = self.counter.value[0]
            except Exception:  # the context may be stopping
                return
            state = (done, total, rows)
            now = time.monotonic()
            if total and state != self._last and (self.progress.tty or now - self._last_time >= 2.0):
                self._last, self._last_time = state, now
                self.progress.step(f"scoring: {done}/{total} tasks done, {rows:,} rows read")

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def _score(args, progress: Progress) -> str:
    from leapserve.bundler.errors import BundlerError, OutputExists, java_root_cause
    from leapserve.runtime import BundleError, ScoringError, load_bundle

    in_path = Path(args.input).expanduser()
    out_path = Path(args.output).expanduser()
    fmt_in = input_format(in_path, args.input_format)
    fmt_out = args.output_format or ("csv" if out_path.suffix.lower() == ".csv" else "parquet")
    if out_path.exists() and not args.force:
        raise OutputExists(str(out_path))
    wanted = _outputs(args)
    try:  # the bundle is checked without Spark
        pipeline = load_bundle(args.bundle)
        if wanted:
            pipeline.required_inputs(wanted)
    except (BundleError, ScoringError) as e:
        raise BundlerError(f"--bundle {args.bundle}: {e}") from None

    if args.master:
        os.environ["LEAPSERVE_SPARK_MASTER"] = args.master
    progress.step("starting Spark")
    from leapserve import bundler
    import leapserve.bundler.scoring as scoring

    spark = bundler.spark_session()
    if not getattr(args, "debug", False):
        spark.sparkContext.setLogLevel("OFF")  # failed tasks are reported in one line below
    progress.step(f"reading {in_path} ({fmt_in})")
    try:
        if fmt_in == "csv":
            df = spark.read.csv(str(in_path.resolve()), header=True, inferSchema=True)
        else:
            df = spark.read.parquet(str(in_path.resolve()))
        df.schema  # noqa: B018  (resolves the files now, so a bad file fails here)
    except Exception as e:
        if type(e).__module__.startswith(("pyspark", "py4j")):
            detail = java_root_cause(e) if hasattr(e, "java_exception") else str(e).strip().splitlines()[0]
            raise CommandError(f"--input {in_path}: cannot read it as {fmt_in}: {detail}") from None
        raise
    counter = scoring.counts_accumulator(spark.sparkContext)
    scored = scoring.score(df, args.bundle, wanted, on_error=args.on_error,
                           error_col=args.error_column if args.on_error == "null" else None, counter=counter)
    if fmt_out == "csv":
        scored = csv_ready(scored)
    writer = scored.write.mode("overwrite" if args.force else "errorifexists")
    started = time.monotonic()
    progress.step(f"scoring with {spark.sparkContext.master}")
    try:
        with _Watch(spark.sparkContext, counter, progress):
            if fmt_out == "csv":
                writer.csv(str(out_path.resolve()), header=True)
            else:
                writer.parquet(str(out_path.resolve()))
    except Exception as e:
        reason = _row_failure(e)
        if reason is not None:
            raise CommandError(f"{reason} (--on-error null writes such rows with null outputs)") from None
        if type(e).__module__.startswith(("pyspark", "py4j")):
            detail = java_root_cause(e) if hasattr(e, "java_exception") else str(e).strip().splitlines()[0]
            err = CommandError(f"scoring failed: {detail}")
            err.java_trace = str(e)
            raise err from None
        raise
    seconds = time.monotonic() - started
    read, written, failed, loads = counter.value
    text = f"scored {read:,} rows in {seconds:.1f}s: wrote {written:,} to {out_path} ({fmt_out})"
    if read - written:
        text += f", {read - written:,} dropped (handle_invalid 'skip')"
    if failed:
        text += f", {failed:,} with errors (null outputs, see column {args.error_column!r})"
    return text + f"; the bundle was loaded by {loads} Python worker(s)"


def run(args) -> int:
    from leapserve.bundler.errors import BundlerError, java_root_cause

    debug = getattr(args, "debug", False)
    progress = Progress(prefix="leapserve score")
    try:
        with progress:
            summary = _score(args, progress)
    except (BundlerError, CommandError) as e:
        if debug:
            traceback.print_exc()
            if getattr(e, "java_trace", None):
                print(e.java_trace, file=sys.stderr)
        print(f"leapserve score: error: {one_line(str(e))}", file=sys.stderr)
        return 1
    except Exception as e:
        if debug:
            traceback.print_exc()
        detail = java_root_cause(e) if hasattr(e, "java_exception") else f"{type(e).__name__}: {e}"
        print(f"leapserve score: error: unexpected failure: {one_line(detail)} "
              f"(run with --debug for the full trace)", file=sys.stderr)
        return 1
    print(summary)
    return 0
