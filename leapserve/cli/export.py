"""leapserve export: a saved Spark PipelineModel -> an MLeap bundle, with MLeap's own serializer.

    leapserve export --spark-model DIR --sample DATA --output PATH [--format json|protobuf]
                     [--force] [--verify] [--json]

Everything a user can get wrong is checked before Spark starts where possible (paths, model
metadata, existing output), so those mistakes cost no JVM start-up. Each error is one line on
stderr and exit code 1; ``--debug`` adds the traceback and the Java stack trace. pyspark is
imported only inside ``run`` so that the other commands never load it. ``--out`` is the old name of
``--output`` (options.py).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from .errors import USAGE, CommandError, UsageError, argument, missing_path, print_error, report_failure
from .jsonvalues import jsonable
from .options import add_old_name
from .progress import Progress

HELP = "export a saved Spark PipelineModel as an MLeap bundle (needs pyspark and Java)"
DEBUG_HELP = "on failure, show the Python traceback and the Java stack trace"
EPILOG = """\
exit codes:
  0  exported (with a warning on stderr if the runtime and Spark disagree and --verify is not given)
  1  the export failed (--output exists without --force, not a saved PipelineModel, ...), or
     --verify found a difference; a failed export leaves --output as it was
  2  usage: wrong arguments, --spark-model or --sample does not exist

environment:
  JAVA_HOME                      the Java that runs Spark (else java on PATH)
  LEAPSERVE_CACHE                where the MLeap jars are (else $XDG_CACHE_HOME/leapserve, ~/.cache/leapserve)
  LEAPSERVE_SPARK_MASTER         Spark master (default local[2])
  LEAPSERVE_SPARK_DRIVER_MEMORY  Spark driver memory (default 2g)
"""


def add_arguments(parser) -> None:
    parser.add_argument("--spark-model", required=True, metavar="DIR",
                        help="a fitted PipelineModel saved with model.save(DIR)")
    parser.add_argument("--sample", required=True, metavar="DATA",
                        help="rows as given to model.transform: a parquet file or folder, or a CSV file "
                             "with a header row (types inferred)")
    output = parser.add_argument("--output", metavar="PATH",
                                 help="bundle to write: a .zip file, a directory, or a jar:file: URI (required)")
    add_old_name(parser, "--out", "--output", metavar="PATH")
    parser.add_argument("--format", choices=("json", "protobuf"), default="json",
                        help="serialization format of the bundle (default: json)")
    parser.add_argument("--force", action="store_true", help="replace PATH if it exists")
    parser.add_argument("--verify", action="store_true",
                        help="fail (exit 1) unless the leapserve runtime scores the sample exactly like Spark")
    parser.add_argument("--json", action="store_true", help="print the export record as JSON")
    # --output is required, but argparse cannot require one of two names (--out, its old name, is
    # checked in run): the usage line shows it as required all the same.
    output.required = True
    parser.usage = parser.format_usage().removeprefix("usage: ").replace(parser.prog, "%(prog)s", 1).rstrip()
    output.required = False


# --- output ----------------------------------------------------------------------------------

def verification_text(v: dict | None) -> str:
    if not v:
        return "not run"
    if v["status"] in ("ok", "mismatch"):
        text = (f"{v['status']}: {v['rows']} rows, {v['values']} values compared with Spark, "
                f"largest difference {v['max_difference']:.3g}")
        if v["status"] == "mismatch":
            text += "".join(f"\n    {m}" for m in v.get("mismatches", []))
        return text
    return f"{v['status']}: {v.get('reason', '')}"


def summary(record) -> str:
    """The ExportRecord as text."""
    lines = [
        f"exported {record.path}",
        f"  format        {record.format} (MLeap {record.mleap_version}, from Spark {record.spark_version})",
        f"  stages        {len(record.stages)}",
    ]
    width_name = max((len(st["name"]) for st in record.stages), default=0)
    width_op = max((len(st["op"]) for st in record.stages), default=0)
    for st in record.stages:
        ins = ", ".join(st["inputs"].values()) or "-"
        outs = ", ".join(st["outputs"].values()) or "-"
        lines.append(f"    {st['name']:<{width_name}}  {st['op']:<{width_op}}  {ins} -> {outs}")
    lines.append("  inputs        " + ", ".join(f"{c} ({t})" for c, t in record.inputs.items()))
    lines.append("  outputs       " + ", ".join(record.outputs))
    lines.append("  fixups        " + ("; ".join(record.fixups) if record.fixups else "none"))
    lines.append("  verification  " + verification_text(record.verification))
    return "\n".join(lines)


# --- the command ---------------------------------------------------------------------------

def _export(args, progress: Progress):
    from leapserve import bundler
    from leapserve.bundler import datasets, saved_model, session
    from leapserve.bundler.export import bundle_location

    session.check_packages()  # a serving-only install: say what to install, before anything else
    model_dir = Path(args.spark_model).expanduser()
    sample_path = Path(args.sample).expanduser()
    if not model_dir.exists():  # a path that does not exist: a usage error, as in every command
        raise UsageError(f"--spark-model {args.spark_model}: no such directory")
    problem = missing_path(args.sample, "--sample")
    if problem:
        raise UsageError(problem)
    with argument("--spark-model"):
        saved_model.check_pipeline_model(model_dir)
    with argument("--sample"):
        data_format = datasets.data_format(sample_path)
    _, out_path, _ = bundle_location(args.output)
    if out_path.exists() and not args.force:
        raise CommandError(f"--output {out_path} already exists; pass --force to replace it")

    progress.step("starting Spark")
    spark = bundler.spark_session()
    if not getattr(args, "debug", False):
        session.silence_logs(spark)
    progress.step(f"loading the Spark model from {model_dir}")
    with argument("--spark-model"):
        model = saved_model.load_pipeline_model(model_dir)
    progress.step(f"reading the sample ({data_format}) from {sample_path}")
    with argument("--sample"):
        sample = datasets.read_dataset(spark, sample_path, data_format)
    try:
        return bundler.export_bundle(model, sample, args.output, format=args.format, force=args.force,
                                     verify=True if args.verify else None, progress=progress.step)
    except bundler.SampleNotTransformable as e:  # the message, with the sample named
        raise CommandError(f"Spark cannot transform the sample {sample_path}: {e.cause} -- the sample "
                           f"must hold rows that model.transform accepts", e.java_trace) from e


def run(args) -> int:
    from leapserve.bundler.errors import VerificationFailed

    if args.output is None:
        print_error("export", "the following arguments are required: --output")
        return USAGE
    progress = Progress("leapserve export")
    try:
        with progress:
            record = _export(args, progress)
    except Exception as e:
        # the export is atomic: a failed one leaves --output as it was
        unverified = isinstance(e, VerificationFailed)
        note = f" (nothing was written to {args.output})" if unverified else ""
        return report_failure("export", e, getattr(args, "debug", False), note)
    if args.json:
        print(json.dumps(jsonable(record.to_json()), indent=2))
    else:
        print(summary(record))
    v = record.verification or {}
    if v.get("status") == "mismatch":
        print("leapserve export: warning: the leapserve runtime and Spark disagree on the sample "
              "(see verification above; --verify makes this an error)", file=sys.stderr)
    return 0
