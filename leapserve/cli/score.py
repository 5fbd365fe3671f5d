"""leapserve score: score a parquet or CSV data set on Spark with a bundle, offline, with the same
runtime the server uses (leapserve.bundler.scoring).

    leapserve score --bundle model.zip --input rows.parquet --output scored.parquet
                    [--master URL] [--select COL ...] [--on-error fail|null] [--force]

Local mode by default (LEAPSERVE_SPARK_MASTER, else local[2]); ``--master`` runs on any Spark
master (its executors need leapserve installed). The bundle and the paths are checked before Spark
starts. Progress (tasks done, rows read) goes to stderr; one summary line to stdout. Errors are one
line on stderr and exit code 1: with ``--on-error fail`` (the default) the first row the runtime
refuses names its field, value and position; with ``--on-error null`` such rows get null outputs
and a message in the error column.

CSV cannot hold vectors or arrays: in CSV output they are written as JSON text ([1.0,2.0] for a
vector, as dense values).

The work is the training side's: leapserve.bundler.datasets reads and writes the data,
leapserve.bundler.scoring scores it, leapserve.bundler.watch follows the job for the progress lines.
``--outputs`` is the old name of ``--select`` (options.py).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from leapserve.bundler.datasets import FORMATS

from .environment import BUNDLE_LIMITS_HELP
from .errors import CommandError, UsageError, argument, missing_path, report_failure
from .options import add_old_name, flat_names, names
from .progress import Progress

HELP = "score a parquet or CSV data set on Spark with a bundle (same runtime as the server)"
DEBUG_HELP = "on failure, show the Python traceback and the Java stack trace"
EPILOG = """\
exit codes:
  0  scored (the summary line is on stdout)
  1  the bundle cannot serve or the data cannot be read, or scoring failed (with --on-error fail:
     the first row the runtime refuses, by field, value and position)
  2  usage: wrong arguments or LEAPSERVE_* variable, --bundle or --input does not exist

environment:
  LEAPSERVE_SPARK_MASTER         --master
  LEAPSERVE_SPARK_DRIVER_MEMORY  Spark driver memory (default 2g)
  JAVA_HOME                      the Java that runs Spark (else java on PATH)
  LEAPSERVE_CACHE                where the MLeap jars are (else $XDG_CACHE_HOME/leapserve, ~/.cache/leapserve)
""" + BUNDLE_LIMITS_HELP


def add_arguments(p) -> None:
    p.add_argument("--bundle", required=True, metavar="PATH",
                   help="the bundle: a .zip file, a directory, or a jar:file: URI")
    p.add_argument("--input", required=True, metavar="DATA",
                   help="rows to score: a parquet file or folder, or CSV with a header row (types inferred)")
    p.add_argument("--output", required=True, metavar="DATA", help="where to write the scored rows (a folder)")
    p.add_argument("--input-format", choices=FORMATS,
                   help="default: from the name (.csv) or the content")
    p.add_argument("--output-format", choices=FORMATS, help="default: csv if --output ends in .csv, else parquet")
    p.add_argument("--select", action="extend", nargs="+", metavar="COL", type=names,
                   help="only these output columns (names separated by spaces or commas) "
                        "(default: every column the pipeline adds)")
    add_old_name(p, "--outputs", "--select", action=argparse._ExtendAction, nargs="+", type=names)
    p.add_argument("--master", metavar="URL",
                   help="Spark master (default: LEAPSERVE_SPARK_MASTER, else local[2])")
    p.add_argument("--on-error", choices=("fail", "null"), default="fail",
                   help="a row the runtime refuses: fail the job, or write null outputs and an error column (default: fail)")
    p.add_argument("--error-column", default="score_error", metavar="NAME",
                   help="name of the error column with --on-error null (default: score_error)")
    p.add_argument("--force", action="store_true", help="replace --output if it exists")


def _outputs(args) -> list[str] | None:
    return flat_names(args.select) or None


class _ShowProgress:
    """What JobWatcher reports, on stderr: every change on a terminal, at most every 2 s otherwise."""

    def __init__(self, progress: Progress):
        self.progress = progress
        self._last = None
        self._last_time = 0.0

    def __call__(self, done: int, total: int, rows: int) -> None:
        state = (done, total, rows)
        now = time.monotonic()
        if state != self._last and (self.progress.tty or now - self._last_time >= 2.0):
            self._last, self._last_time = state, now
            self.progress.step(f"scoring: {done}/{total} tasks done, {rows:,} rows read")


def _score(args, progress: Progress) -> str:
    from leapserve.bundler import datasets, session
    from leapserve.bundler.errors import BundlerError, spark_failure
    from leapserve.runtime import BundleError, ScoringError, load_bundle

    session.check_packages(session.SCORING_PACKAGES)  # a serving-only install: say what to install first
    from leapserve.runtime.container import check_limits_env

    for flag, path in (("--bundle", args.bundle), ("--input", args.input)):
        problem = missing_path(path, flag)
        if problem:
            raise UsageError(problem)
    problem = check_limits_env()  # LEAPSERVE_MAX_BUNDLE_* and friends
    if problem:
        raise UsageError(problem)
    in_path = datasets.location(args.input)
    out_path = datasets.location(args.output)
    with argument("--input"):
        fmt_in = datasets.data_format(in_path, args.input_format)
    fmt_out = datasets.output_format(out_path, args.output_format)
    if isinstance(out_path, Path) and out_path.exists() and not args.force:  # a URI: Spark refuses it
        raise CommandError(f"--output {out_path} already exists; pass --force to replace it")
    wanted = _outputs(args)
    try:  # the bundle is checked without Spark
        pipeline = load_bundle(args.bundle)
        if wanted:
            pipeline.required_inputs(wanted)
    except (BundleError, ScoringError) as e:
        message = str(e).removeprefix(f"{args.bundle}: ")  # the bundle's path, named once
        raise BundlerError(f"--bundle {args.bundle}: {message}") from None

    if args.master:
        os.environ["LEAPSERVE_SPARK_MASTER"] = args.master
    progress.step("starting Spark")
    from leapserve import bundler
    from leapserve.bundler import scoring
    from leapserve.bundler.watch import JobWatcher

    spark = bundler.spark_session()
    if not getattr(args, "debug", False):
        session.silence_logs(spark)  # failed tasks are reported in one line below
    progress.step(f"reading {in_path} ({fmt_in})")
    with argument("--input"):
        df = datasets.read_dataset(spark, in_path, fmt_in)
    counter = scoring.counts_accumulator(spark.sparkContext)
    scored = scoring.score(df, args.bundle, wanted, on_error=args.on_error,
                           error_col=args.error_column if args.on_error == "null" else None, counter=counter)
    started = time.monotonic()
    progress.step(f"scoring with {spark.sparkContext.master}")
    try:
        with JobWatcher(spark.sparkContext, counter, _ShowProgress(progress)):
            datasets.write_dataset(scored, out_path, fmt_out, overwrite=args.force)
    except Exception as e:
        reason = scoring.row_failure(e)
        if reason is not None:
            raise CommandError(f"{reason} (--on-error null writes such rows with null outputs)") from None
        detail = spark_failure(e)
        if detail is None:
            raise
        raise CommandError(f"scoring failed: {detail}", java_trace=str(e)) from None
    seconds = time.monotonic() - started
    read, written, failed, loads = counter.value
    text = f"scored {read:,} rows in {seconds:.1f}s: wrote {written:,} to {out_path} ({fmt_out})"
    if read - written:
        text += f", {read - written:,} dropped (handle_invalid 'skip')"
    if failed:
        text += f", {failed:,} with errors (null outputs, see column {args.error_column!r})"
    return text + f"; the bundle was loaded by {loads} Python worker(s)"


def run(args) -> int:
    progress = Progress("leapserve score")
    try:
        with progress:
            summary = _score(args, progress)
    except Exception as e:
        return report_failure("score", e, getattr(args, "debug", False))
    print(summary)
    return 0
