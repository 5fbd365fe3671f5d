"""leapserve export: a saved Spark PipelineModel -> an MLeap bundle, with MLeap's own serializer.

    leapserve export --spark-model DIR --sample DATA --out PATH [--format json|protobuf]
                     [--force] [--verify] [--json]

Everything a user can get wrong is checked before Spark starts where possible (paths, model
metadata, existing output), so those mistakes cost no JVM start-up. Each error is one line on
stderr and exit code 1; ``--debug`` adds the traceback and the Java stack trace. pyspark is
imported only inside ``run`` so that the other commands never load it.
"""

from __future__ import annotations

import json
import math
import sys
import traceback
from pathlib import Path

from .progress import Progress

HELP = "export a saved Spark PipelineModel as an MLeap bundle (needs pyspark and Java)"

PIPELINE_MODEL_CLASS = "org.apache.spark.ml.PipelineModel"


def add_arguments(parser) -> None:
    parser.add_argument("--spark-model", required=True, metavar="DIR",
                        help="a fitted PipelineModel saved with model.save(DIR)")
    parser.add_argument("--sample", required=True, metavar="DATA",
                        help="rows as given to model.transform: a parquet file or folder, or a CSV file "
                             "with a header row (types inferred)")
    parser.add_argument("--out", required=True, metavar="PATH",
                        help="bundle to write: a .zip file, a directory, or a jar:file: URI")
    parser.add_argument("--format", choices=("json", "protobuf"), default="json",
                        help="serialization format of the bundle (default: json)")
    parser.add_argument("--force", action="store_true", help="replace PATH if it exists")
    parser.add_argument("--verify", action="store_true",
                        help="fail (exit 1) unless the leapserve runtime scores the sample exactly like Spark")
    parser.add_argument("--json", action="store_true", help="print the export record as JSON")


class CommandError(Exception):
    """A user's mistake this command finds itself (bad paths, unreadable sample): one line, exit 1."""


# --- checks that need no Spark -------------------------------------------------------------

def saved_class(model_dir: Path) -> str:
    """The class recorded in a saved Spark ML object's metadata; CommandError when there is none."""
    if not model_dir.exists():
        raise CommandError(f"--spark-model {model_dir}: no such directory")
    if not model_dir.is_dir():
        raise CommandError(f"--spark-model {model_dir} is a file, not a saved PipelineModel "
                           f"(a directory written by model.save)")
    meta = model_dir / "metadata"
    parts = sorted(meta.glob("part-*")) if meta.is_dir() else []
    for part in parts:
        try:
            line = part.read_text(encoding="utf-8").strip().splitlines()
            doc = json.loads(line[0]) if line else None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            doc = None
        if isinstance(doc, dict) and isinstance(doc.get("class"), str):
            return doc["class"]
    raise CommandError(f"--spark-model {model_dir} is not a saved PipelineModel: it has no Spark ML metadata "
                       f"(metadata/part-*); save the fitted pipeline with model.save(path)")


def check_model_dir(model_dir: Path) -> None:
    from leapserve.bundler.errors import NotAPipelineModel

    cls = saved_class(model_dir)
    if cls == PIPELINE_MODEL_CLASS:
        return
    if cls == "org.apache.spark.ml.Pipeline":
        hint = "it is an unfitted Pipeline; fit it and save the PipelineModel"
    elif cls.startswith("pyspark."):
        hint = (f"it was saved by Python ({cls}), which means it has Python-only stages "
                f"that MLeap cannot export")
    else:
        hint = (f"it holds {cls}; wrap the model in a pipeline and save that: "
                f"PipelineModel(stages=[model]).save(path)")
    raise NotAPipelineModel(f"--spark-model {model_dir} is not a saved PipelineModel: {hint}")


def sample_format(path: Path) -> str:
    """'parquet' or 'csv', from the name (or the content when the name does not say)."""
    if not path.exists():
        raise CommandError(f"--sample {path}: no such file or directory")
    if path.is_dir():
        names = [p.name.lower() for p in path.iterdir() if not p.name.startswith((".", "_"))]
        if names and all(n.endswith(".csv") for n in names):
            return "csv"
        return "parquet"
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in (".parquet", ".pq"):
        return "parquet"
    with open(path, "rb") as fh:
        return "parquet" if fh.read(4) == b"PAR1" else "csv"


# --- output ----------------------------------------------------------------------------------

def _jsonable(value):
    """Record values as strict JSON (an infinite difference becomes the string "inf")."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


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


def _one_line(text: str, limit: int = 600) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _java_root_cause(err) -> str:
    """'Class: message' of the innermost cause of a Py4JJavaError."""
    try:
        cause = err.java_exception
        while cause.getCause() is not None:
            cause = cause.getCause()
        return f"{cause.getClass().getName()}: {cause.getMessage()}"
    except Exception:  # the JVM may be gone
        return str(err).splitlines()[0] if str(err) else type(err).__name__


# --- the command ---------------------------------------------------------------------------

def _export(args, progress: Progress):
    from leapserve.bundler.errors import OutputExists
    from leapserve.bundler.export import bundle_location

    model_dir = Path(args.spark_model).expanduser()
    sample_path = Path(args.sample).expanduser()
    check_model_dir(model_dir)
    data_format = sample_format(sample_path)
    _, out_path, _ = bundle_location(args.out)
    if out_path.exists() and not args.force:
        raise OutputExists(str(out_path))

    progress.step("starting Spark")
    from leapserve import bundler

    spark = bundler.spark_session()
    if not getattr(args, "debug", False):
        # Spark logs failed tasks at ERROR level with their Java stack trace; the user gets one
        # line from us instead (and everything with --debug).
        spark.sparkContext.setLogLevel("OFF")
    from py4j.protocol import Py4JJavaError
    from pyspark.ml import PipelineModel

    progress.step(f"loading the Spark model from {model_dir}")
    try:
        model = PipelineModel.load(str(model_dir.resolve()))
    except Py4JJavaError as e:
        raise _with_trace(CommandError(
            f"--spark-model {model_dir}: Spark cannot load it as a PipelineModel: {_java_root_cause(e)}"), e)
    progress.step(f"reading the sample ({data_format}) from {sample_path}")
    try:
        reader = spark.read
        if data_format == "csv":
            sample = reader.csv(str(sample_path.resolve()), header=True, inferSchema=True)
        else:
            sample = reader.parquet(str(sample_path.resolve()))
        sample.schema  # noqa: B018  (resolves the files now, so a bad file fails here)
    except Py4JJavaError as e:
        raise _with_trace(CommandError(
            f"--sample {sample_path}: cannot read it as {data_format}: {_java_root_cause(e)}"), e)
    except Exception as e:  # pyspark's AnalysisException and friends
        if type(e).__module__.startswith(("pyspark", "py4j")):
            raise _with_trace(CommandError(
                f"--sample {sample_path}: cannot read it as {data_format}: {_first_line(e)}"), e)
        raise
    record = bundler.export_bundle(model, sample, args.out, format=args.format, force=args.force,
                                   verify=True if args.verify else None, progress=progress.step)
    v = record.verification or {}
    if v.get("status") == "failed" and v.get("reason", "").startswith(SPARK_REFUSED):
        # Spark failing to run the pipeline on the sample rows (e.g. a null where a stage's
        # handleInvalid is "error"): the sample cannot serve for anything, so this is an error.
        cause = v["reason"][len(SPARK_REFUSED):].lstrip(": ")
        raise CommandError(f"Spark cannot transform the sample {sample_path}: {cause} -- the sample "
                           f"must hold rows that model.transform accepts")
    return record


SPARK_REFUSED = "Spark cannot transform the sample"


def _first_line(err) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def _with_trace(err: Exception, java_err) -> Exception:
    err.java_trace = str(java_err)
    return err


def run(args) -> int:
    from leapserve.bundler.errors import BundlerError, VerificationFailed

    debug = getattr(args, "debug", False)
    progress = Progress()
    try:
        with progress:
            record = _export(args, progress)
    except (BundlerError, CommandError) as e:
        if debug:
            traceback.print_exc()
            if getattr(e, "java_trace", None):
                print(e.java_trace, file=sys.stderr)
        message = str(e)
        if isinstance(e, VerificationFailed):
            message += f" (the bundle was written to {args.out} but is not verified)"
        print(f"leapserve export: error: {_one_line(message)}", file=sys.stderr)
        return 1
    except Exception as e:
        # Anything else is unexpected: still one line, the details behind --debug.
        if debug:
            traceback.print_exc()
        detail = _java_root_cause(e) if hasattr(e, "java_exception") else f"{type(e).__name__}: {e}"
        print(f"leapserve export: error: unexpected failure: {_one_line(detail)} "
              f"(run with --debug for the full trace)", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(_jsonable(record.to_json()), indent=2))
    else:
        print(summary(record))
    v = record.verification or {}
    if v.get("status") == "mismatch":
        print("leapserve export: warning: the leapserve runtime and Spark disagree on the sample "
              "(see verification above; --verify makes this an error)", file=sys.stderr)
    return 0


def main(argv=None) -> int:
    """`python -m leapserve.cli.export ...`: the subcommand on its own."""
    import argparse

    parser = argparse.ArgumentParser(prog="leapserve export", description=HELP)
    parser.add_argument("--debug", action="store_true", help="show full tracebacks (and Java stack traces)")
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
