"""Export a fitted Spark pipeline as an MLeap bundle with MLeap's own serializer.

    record = export_bundle(model, df, "model.zip", format="json")

``model`` is a fitted PipelineModel (or a single fitted transformer), ``df`` rows as given to
``model.transform``: MLeap reads column metadata (vector sizes, category counts) from the
transformed data, so the export transforms it first. ``path`` is a ``.zip`` file, a directory, or
a ``jar:file:``/``file:`` URI.

After writing, the export corrects what MLeap 0.16's writer leaves out for Spark 3 (see
``FIXUPS``), describes what it wrote, and verifies the bundle: a sample of the rows is scored by
the native runtime and by Spark and the largest difference is reported (``verify=True`` makes a
mismatch an error).

The export is atomic: the bundle is written under a hidden ``.partial`` name beside ``path``
(``staging_path``; model directory scans pass over such names) and moved to ``path`` only once it
is complete and verified. A failed export leaves ``path`` as it was (an old bundle replaced with
``force`` stays intact) and no staging file behind.
"""

from __future__ import annotations

import ctypes
import errno
import io
import json
import os
import secrets
import shutil
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlparse

from . import spark_stages
from .equivalents import writable_stages
from .errors import (BundlerError, MissingColumns, OutputExists, SampleNotTransformable, StageNotSerializable,
                     VerificationFailed, java_root_cause)
from .session import spark_session
from .xgboost_stages import (add_xgboost_nodes, check_xgboost_stage, verification_tolerances, xgboost_node,
                             xgboost_op)

FORMATS = ("json", "protobuf")


@dataclass
class ExportRecord:
    """What an export wrote."""

    path: str
    uri: str
    format: str
    mleap_version: str
    spark_version: str
    stages: list[dict]
    inputs: dict[str, str]
    outputs: list[str]
    fixups: list[str] = field(default_factory=list)
    verification: dict | None = None

    def to_json(self) -> dict:
        return asdict(self)


def bundle_location(path) -> tuple[str, Path, bool]:
    """(MLeap URI, file-system path, is-zip) for a path or URI given by the user."""
    text = os.fspath(path)
    if text.startswith("jar:"):
        inner = text[len("jar:"):].split("!", 1)[0]
        fs = Path(unquote(urlparse(inner).path))
        return f"jar:file:{fs.resolve()}", fs.resolve(), True
    if text.startswith("file:"):
        fs = Path(unquote(urlparse(text).path)).resolve()
        if fs.suffix == ".zip":
            return f"jar:file:{fs}", fs, True
        return f"file:{fs}", fs, False
    fs = Path(text).expanduser().resolve()
    if fs.suffix == ".zip":
        return f"jar:file:{fs}", fs, True
    return f"file:{fs}", fs, False


def pipeline_stages(model) -> list:
    """The leaf stages of a fitted model, in order (nested PipelineModels and CV best models opened)."""
    from pyspark.ml import PipelineModel

    out = []
    if isinstance(model, PipelineModel):
        for st in model.stages:
            out.extend(pipeline_stages(st))
    elif hasattr(model, "bestModel"):
        out.extend(pipeline_stages(model.bestModel))
    else:
        out.append(model)
    return out


def java_class(stage) -> str:
    return stage._java_obj.getClass().getName()


_INPUT_PARAMS = ("inputCol", "inputCols", "featuresCol", "userCol", "itemCol", "itemsCol")
_OUTPUT_PARAMS = ("outputCol", "outputCols", "predictionCol", "rawPredictionCol", "probabilityCol",
                  "varianceCol", "linkPredictionCol", "topicDistributionCol", "quantilesCol")


def _param_columns(stage, names) -> list[str]:
    cols = []
    for name in names:
        if not stage.hasParam(name):
            continue
        param = stage.getParam(name)
        if not stage.isDefined(param):
            continue
        value = stage.getOrDefault(param)
        if isinstance(value, str):
            if value:
                cols.append(value)
        elif value:
            cols.extend(value)
    return cols


def required_columns(stages) -> dict[str, str]:
    """Input columns the pipeline reads that no earlier stage produces: column -> stage uid."""
    produced: set[str] = set()
    needed: dict[str, str] = {}
    for st in stages:
        for col in _param_columns(st, _INPUT_PARAMS):
            if col not in produced:
                needed.setdefault(col, st.uid)
        produced.update(_param_columns(st, _OUTPUT_PARAMS))
    return needed


def check_stages(stages) -> None:
    """Refuse, with the stage named, what MLeap's serializer cannot write."""
    spark = spark_session()
    registry = spark._jvm.org.apache.spark.ml.bundle.SparkBundleContext.defaultContext().bundleRegistry()
    aliases = registry.opAlias()
    table = spark_stages.stages()
    for st in stages:
        cls = java_class(st)
        refused = table.get(cls.removeprefix("org.apache.spark.ml."))
        if isinstance(refused, spark_stages.Refused):  # the table's reason says more than "no op"
            raise StageNotSerializable(st.uid, cls, refused.reason)
        if not aliases.contains(st._java_obj.getClass().getCanonicalName()):
            raise StageNotSerializable(st.uid, cls, "MLeap's serializer has no op for this class")


# --- single-column and multi-column stages -------------------------------------------------

# Spark 3 stages that take one column (inputCol) or several (inputCols) where MLeap 0.16's op writes
# the single-column form only (the Spark getter it calls fails on the other). A multi-column stage
# is written as one single-column node per column, named <uid>_<i>: the layout every MLeap runtime
# reads. Value: the multi-column params that hold one value per column -> their single-column name.
_SPLIT_PER_COLUMN = {
    "org.apache.spark.ml.feature.Bucketizer": {"splitsArray": "splits"},  # QuantileDiscretizer's model too
    "org.apache.spark.ml.feature.Binarizer": {"thresholds": "threshold"},
    "org.apache.spark.ml.feature.StopWordsRemover": {},
}
# ... and where it writes the multi-column form only: a single-column stage is written as the
# multi-column stage of one column (same uid, same node).
_MULTI_COLUMN_ONLY = ("org.apache.spark.ml.feature.OneHotEncoderModel",)
# Not here: StringIndexerModel's multi-column form and ImputerModel (MLeap 0.16 has no op for it),
# which need ops of leapserve's own on the Java side (check_stages refuses them until then).


def written_forms(stage) -> list | None:
    """The stages MLeap's writer is given for ``stage`` when it is in a form MLeap 0.16 does not
    write (see _SPLIT_PER_COLUMN, _MULTI_COLUMN_ONLY), else None. The stage itself is not changed."""
    cls = java_class(stage)
    if cls in _MULTI_COLUMN_ONLY and stage.isSet(stage.getParam("inputCol")):
        copy = stage.copy()
        copy.clear(copy.getParam("inputCol"))
        copy.clear(copy.getParam("outputCol"))
        copy._set(inputCols=[stage.getInputCol()], outputCols=[stage.getOutputCol()])
        return [copy]
    if cls in _SPLIT_PER_COLUMN and stage.isSet(stage.getParam("inputCols")):
        return _single_column_stages(stage, _SPLIT_PER_COLUMN[cls])
    return None


def _single_column_stages(stage, per_column: dict) -> list:
    from pyspark.ml.wrapper import JavaParams, JavaWrapper

    shared = {p.name: stage.getOrDefault(p) for p in stage.params
              if stage.isSet(p) and p.name not in ("inputCols", "outputCols", *per_column)}
    columns = zip(stage.getInputCols(), stage.getOutputCols())
    out = []
    for i, (input_col, output_col) in enumerate(columns):
        single = JavaParams._from_java(JavaWrapper._new_java_obj(java_class(stage), f"{stage.uid}_{i}"))
        single._set(**shared, inputCol=input_col, outputCol=output_col)
        for multi, name in per_column.items():
            if stage.isSet(stage.getParam(multi)):
                single._set(**{name: stage.getOrDefault(multi)[i]})
        out.append(single)
    return out


def written_model(model, forms: dict):
    """``model`` with each leaf stage whose uid is in ``forms`` replaced by its written forms; a
    PipelineModel keeps its uid (the bundle's node names). Unchanged parts are the same objects."""
    from pyspark.ml import PipelineModel

    if isinstance(model, PipelineModel):
        stages = []
        for st in model.stages:
            new = written_model(st, forms)
            stages.extend(new if isinstance(new, list) else [new])
        if all(a is b for a, b in zip(stages, model.stages)) and len(stages) == len(model.stages):
            return model
        rebuilt = PipelineModel(stages)
        rebuilt.uid = model.uid
        return rebuilt
    found = forms.get(getattr(model, "uid", None))
    if found is None:
        return model
    return found if len(found) > 1 else found[0]


def _as_model(written, uid: str):
    """A written form that is a list of stages (a split root) as a PipelineModel named ``uid``."""
    from pyspark.ml import PipelineModel

    if not isinstance(written, list):
        return written
    model = PipelineModel(written)
    model.uid = uid
    return model


# --- writer failures -----------------------------------------------------------------------

def _failure_text(err) -> tuple[str, str]:
    """(one-line cause, full Java stack trace) of an exception raised from the JVM."""
    from py4j.protocol import Py4JJavaError

    if isinstance(err, Py4JJavaError):
        return java_root_cause(err), str(err)
    # PySpark turns some Java exceptions (IllegalArgumentException, ...) into its own
    desc = getattr(err, "desc", None) or str(err)
    trace = getattr(err, "stackTrace", None) or getattr(err, "_stackTrace", None) or ""
    return f"{type(err).__name__}: {desc.splitlines()[0] if desc else ''}", f"{desc}\n{trace}"


def _op_class(spark, stage) -> str | None:
    """The class of the MLeap op that writes ``stage`` (found in stack traces)."""
    try:
        registry = spark._jvm.org.apache.spark.ml.bundle.SparkBundleContext.defaultContext().bundleRegistry()
        return registry.opForObj(stage._java_obj).getClass().getName()
    except Exception:  # no op, or the JVM refuses: nothing to look for
        return None


def _fails_alone(spark, stage, transformed, fmt: str) -> bool:
    """Whether MLeap's writer fails on ``stage`` by itself (written to a scratch folder)."""
    import tempfile

    scratch = Path(tempfile.mkdtemp(prefix="leapserve-probe-"))
    try:
        spark._jvm.ml.combust.mleap.spark.SimpleSparkSerializer().serializeToBundleWithFormat(
            java_model(stage), f"file:{scratch / 'bundle'}", transformed._jdf, _format_object(spark, fmt))
        return False
    except Exception:
        return True
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _java_error(err, stages, spark=None, transformed=None, fmt: str = "json") -> BundlerError:
    """A short message for a failure inside MLeap's writer naming the stage (uid and class) it
    failed on; the full trace stays on .java_trace. The stage is the one whose class the message
    names, else the one whose MLeap op is in the stack trace, else (several candidates, or none)
    the first that fails when written alone."""
    message, trace = _failure_text(err)
    named = [st for st in stages if java_class(st) in message]
    if not named and spark is not None:
        ops = {st.uid: _op_class(spark, st) for st in stages}
        named = [st for st in stages if ops[st.uid] and (f"{ops[st.uid]}$" in trace or f"{ops[st.uid]}." in trace)]
    culprit = named[0] if len(named) == 1 else None
    if culprit is None and spark is not None and transformed is not None:
        culprit = next((st for st in (named or stages) if _fails_alone(spark, st, transformed, fmt)), None)
    if culprit is None:
        return BundlerError(f"MLeap could not write the bundle: {message}", java_trace=trace)
    return StageNotSerializable(culprit.uid, java_class(culprit), f"MLeap failed: {message}", java_trace=trace)


def _format_object(spark, fmt: str):
    serializer = spark._jvm.ml.combust.bundle.serializer
    name = "SerializationFormat$Json$" if fmt == "json" else "SerializationFormat$Protobuf$"
    return getattr(getattr(serializer, name), "MODULE$")


# --- fixups --------------------------------------------------------------------------------

# Each fixup looks at one written model (its op, its attributes in the JSON form, and the Spark
# stage it came from, None for sub-models such as tree0/) and returns the attributes to add with
# a note, or None.

def _fix_hashing_tf(op: str, attrs: dict, stage):
    # Spark 3 hashes terms with the standard MurmurHash3 (hashUnsafeBytes2); MLeap's writers from
    # 0.18 on record that as hashUnsafeBytesVersion 2, MLeap 0.16's writer predates it and readers
    # would fall back to the Spark 2 hash. Record the version Spark 3.5 really used.
    if op == "hashing_term_frequency" and "hashUnsafeBytesVersion" not in attrs:
        return {"hashUnsafeBytesVersion": {"int": 2}}, \
            "recorded hashUnsafeBytesVersion 2 (Spark 3 MurmurHash3)"
    return None


def _fix_distance_measure(op: str, attrs: dict, stage):
    # No MLeap writer records KMeans' distanceMeasure: a cosine model would be read as Euclidean.
    if op in ("k_means", "bisecting_k_means") and stage is not None and "distance_measure" not in attrs:
        try:  # what transform really uses: the measure of the underlying mllib model
            measure = stage._java_obj.parentModel().distanceMeasure()
        except Exception:
            measure = stage.getDistanceMeasure()
        if measure != "euclidean":
            return {"distance_measure": {"string": measure}}, f"recorded distance_measure {measure!r}"
    return None


def _fix_cold_start(op: str, attrs: dict, stage):
    # No MLeap writer records ALS' coldStartStrategy: "drop" would be read as "nan".
    if op == "als" and stage is not None and "cold_start_strategy" not in attrs:
        strategy = stage.getColdStartStrategy()
        if strategy != "nan":
            return {"cold_start_strategy": {"string": strategy}}, f"recorded cold_start_strategy {strategy!r}"
    return None


FIXUPS = (_fix_hashing_tf, _fix_distance_measure, _fix_cold_start)


def _pb_set_scalar(value, json_form: dict) -> None:
    """Write a JSON-form scalar ({"int": 2}, {"string": "x"}) into a protobuf Value."""
    (key, v), = json_form.items()
    field = {"int": "i", "long": "l", "double": "d", "string": "s", "boolean": "b"}[key]
    setattr(value.s, field, v)


def _rewrite_model(data: bytes, ext: str, stage) -> tuple[bytes, list[str]]:
    if ext == "json":
        doc = json.loads(data)
        op, attrs = doc.get("op", ""), doc.setdefault("attributes", {})
    else:
        from leapserve.bundleml import bundle_pb2 as pb
        from leapserve.runtime.attributes import pb_attributes

        msg = pb.Model()
        msg.ParseFromString(data)
        op, attrs = msg.op, pb_attributes(msg.attributes)
    notes = []
    for fix in FIXUPS:
        found = fix(op, attrs, stage)
        if found is None:
            continue
        added, note = found
        notes.append(f"{op}: {note}")
        attrs.update(added)
        if ext != "json":
            for name, json_form in added.items():
                _pb_set_scalar(msg.attributes.list[name], json_form)
    if not notes:
        return data, notes
    return (json.dumps(doc, indent=2).encode() if ext == "json" else msg.SerializeToString()), notes


def _stage_of(model_path: str, stages_by_uid: dict):
    """The Spark stage a model file was written from: its folder is <uid>.node, or root/ for
    the exported model itself (found under the key "root")."""
    folder = model_path.rsplit("/", 2)[-2] if "/" in model_path else ""
    if folder == "root":
        return stages_by_uid.get("root")
    return stages_by_uid.get(folder[:-len(".node")]) if folder.endswith(".node") else None


def apply_fixups(fs_path: Path, is_zip: bool, stages=(), root=None) -> list[str]:
    by_uid = {st.uid: st for st in stages}
    by_uid["root"] = root
    notes: list[str] = []
    if is_zip:
        with zipfile.ZipFile(fs_path) as zin:
            entries = [(info, zin.read(info)) for info in zin.infolist()]
        changed = False
        out_entries = []
        for info, data in entries:
            name = info.filename
            if name.endswith("/model.json") or name.endswith("/model.pb"):
                new, n = _rewrite_model(data, "json" if name.endswith(".json") else "pb", _stage_of(name, by_uid))
                if n:
                    changed = True
                    notes.extend(f"{name}: {x}" for x in n)
                    data = new
            out_entries.append((info, data))
        if changed:
            buf = io.BytesIO()
            with zipfile.ZipFile(buf, "w") as zout:
                for info, data in out_entries:
                    zout.writestr(info, data)
            fs_path.write_bytes(buf.getvalue())
        return notes
    for model_file in sorted(list(fs_path.rglob("model.json")) + list(fs_path.rglob("model.pb"))):
        rel = model_file.relative_to(fs_path).as_posix()
        data = model_file.read_bytes()
        new, n = _rewrite_model(data, "json" if model_file.suffix == ".json" else "pb", _stage_of(rel, by_uid))
        if n:
            model_file.write_bytes(new)
            notes.extend(f"{rel}: {x}" for x in n)
    return notes


def java_model(model):
    """The JVM object MLeap serializes, with what PySpark's conversion loses put back:
    OneVsRestModel._to_java drops rawPredictionCol, and MLeap then looks for the default column."""
    java = model._to_java()
    _restore_params(model, java)
    return java


def _restore_params(py, java) -> None:
    from pyspark.ml import PipelineModel
    from pyspark.ml.classification import OneVsRestModel

    if isinstance(py, PipelineModel):
        jstages = java.stages()
        for i, st in enumerate(py.stages):
            _restore_params(st, jstages[i])
    elif isinstance(py, OneVsRestModel):
        java.set("rawPredictionCol", py.getRawPredictionCol())


# --- description ---------------------------------------------------------------------------

def describe_bundle(fs_path: Path, dataset=None) -> dict:
    """Stages (name, op, input and output columns), required inputs and outputs, read from the
    bundle files themselves (no Spark needed)."""
    from leapserve.runtime.bundle import leaf_nodes, read_root
    from leapserve.runtime.container import open_source

    with open_source(fs_path) as src:
        info, root = read_root(src)
        stages = [{"name": node.name, "op": node.op, "inputs": {s.port: s.name for s in node.inputs},
                   "outputs": {s.port: s.name for s in node.outputs}} for node in leaf_nodes(root)]
    produced: list[str] = []
    required: list[str] = []
    for st in stages:
        for col in st["inputs"].values():
            if col not in produced and col not in required:
                required.append(col)
        produced.extend(c for c in st["outputs"].values() if c not in produced)
    types = {}
    if dataset is not None:
        schema = {f.name: f.dataType.simpleString() for f in dataset.schema.fields}
        types = {c: schema.get(c, "unknown") for c in required}
    else:
        types = {c: "unknown" for c in required}
    return {"info": info, "stages": stages, "inputs": types, "outputs": produced}


# --- verification --------------------------------------------------------------------------

def verify_bundle(model, dataset, fs_path: Path, sample_rows: int = 100, tolerances: dict | None = None) -> dict:
    """Score a sample with the native runtime and with Spark; report the largest difference.

    tolerances: column -> Tolerance for columns compared more loosely than compare's rule (the
    op's own, compare.OP_TOLERANCES, otherwise)."""
    from leapserve.runtime import BundleError, ScoringError, UnsupportedOpError, load_bundle

    from .compare import RowReport, column_tolerances, compare, record_from_row, spark_discrete_columns, spark_value

    try:
        pipeline = load_bundle(fs_path)
    except UnsupportedOpError as e:
        return {"status": "skipped", "reason": str(e)}
    except BundleError as e:
        return {"status": "failed", "reason": f"the native runtime cannot load the bundle: {e}"}
    from py4j.protocol import Py4JJavaError
    from pyspark.sql import functions as F

    # A spread of the data, not its first rows (files are often sorted by the label).
    sample = dataset.orderBy(F.rand(seed=17)).limit(sample_rows)
    inputs = list(pipeline.inputs)
    try:
        transformed = model.transform(sample)
        rows = transformed.collect()
    except Py4JJavaError as e:
        # Spark's own refusal (not the runtime's), kept apart for the CLI, which makes it an error.
        cause = java_root_cause(e)
        return {"status": "failed", "reason": f"Spark cannot transform the sample: {cause}", "spark_cause": cause}
    report = RowReport()
    discrete = spark_discrete_columns(transformed.schema)  # as Spark says, not as the runtime declares
    column_tolerance = {**column_tolerances(pipeline), **(tolerances or {})}
    for row in rows:
        record = record_from_row(row, inputs)
        try:
            got = pipeline.transform(record)
        except ScoringError as e:
            report.mismatches.append(f"input {_describe(record)}: Spark scored it, the runtime raised {e}")
            continue
        report.rows += 1
        expected = row.asDict()
        for col, value in got.items():
            if col not in expected:
                continue
            diff = compare(spark_value(expected[col]), value, exact=col in discrete, tol=column_tolerance[col])
            report.compared_values += 1
            report.max_difference = max(report.max_difference, diff.magnitude)
            if not diff.equal:
                report.mismatches.append(f"input {_describe(record)}, column {col!r}: {diff.detail}")
    return {
        "status": "ok" if report.ok else "mismatch",
        "rows": report.rows,
        "values": report.compared_values,
        "max_difference": report.max_difference,
        "mismatches": report.mismatches[:10],
    }


def _describe(record: dict, limit: int = 160) -> str:
    """The sampled row's inputs, short: its place in a random sample would tell the user nothing."""
    text = ", ".join(f"{k}={v!r}" for k, v in record.items())
    return "{" + (text if len(text) <= limit else text[:limit - 3] + "...") + "}"


# --- atomic output -------------------------------------------------------------------------

def staging_path(final: Path) -> Path:
    """Where the bundle for ``final`` is written until it is complete and verified: beside it (the
    same file system, so moving it into place is a rename), hidden and ending in ``.partial``, two
    marks that make model directory scans pass it over (server/discovery.py)."""
    return final.parent / f".{final.name}.{secrets.token_hex(4)}.partial"


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists() or path.is_symlink():
        path.unlink(missing_ok=True)


_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one step (Linux renameat2 with RENAME_EXCHANGE); False where the system or
    the file system cannot."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), str(b))


def put_in_place(staged: Path, final: Path, force: bool) -> None:
    """Move the complete bundle ``staged`` to ``final``. A reader of ``final`` sees the old bundle or
    the new one, never a mix: a file replaces a file by rename(2); a directory (which rename(2)
    cannot replace) is swapped in with renameat2, or, where that is missing, the old one is
    renamed aside first (``final`` is then absent for the moment between two renames)."""
    if final.exists() or final.is_symlink():
        if not force:  # it appeared while this export ran
            raise OutputExists(str(final))
        if staged.is_dir() or (final.is_dir() and not final.is_symlink()):
            if _exchange(staged, final):
                _remove(staged)  # the old bundle, now under the staging name
                return
            old = final.parent / f".{final.name}.{secrets.token_hex(4)}.old.partial"
            os.rename(final, old)
            os.rename(staged, final)
            _remove(old)
            return
    os.replace(staged, final)


# --- export --------------------------------------------------------------------------------

def export_bundle(model, dataset, path, format: str = "json", *, force: bool = False,
                  verify: bool | None = None, sample_rows: int = 100, progress=None) -> ExportRecord:
    """Write ``model`` as a bundle at ``path``; see the module docstring.

    verify: None (default) verifies and reports; True also raises VerificationFailed on a
    mismatch or when the native runtime cannot score the bundle; False skips verification.
    Spark failing to transform the sample raises SampleNotTransformable whatever ``verify`` says.
    progress: optional callable receiving short status messages.
    """
    say = progress or (lambda msg: None)
    if format not in FORMATS:
        raise BundlerError(f"format must be one of {FORMATS}, got {format!r}")
    uri, fs_path, is_zip = bundle_location(path)
    if fs_path.exists() and not force:
        raise OutputExists(str(fs_path))

    spark = spark_session()
    # Stages MLeap has no op for become the equivalent stages it writes (bundler/equivalents.py).
    stages, rewritten = writable_stages(pipeline_stages(model), dataset)
    # xgboost.spark models have no JVM object: MLeap writes the others, the export adds them after
    xgboost_ops = {st.uid: op for st in stages if (op := xgboost_op(st)) is not None}
    jvm_stages = [st for st in stages if st.uid not in xgboost_ops]
    forms = {st.uid: found for st in jvm_stages if (found := written_forms(st)) is not None}
    written_stages = [w for st in jvm_stages for w in forms.get(st.uid, [st])]
    check_stages(written_stages)
    for st in stages:
        if st.uid in xgboost_ops:
            check_xgboost_stage(st)
    missing = {c: uid for c, uid in required_columns(stages).items() if c not in dataset.columns}
    if missing:
        raise MissingColumns(missing)

    fs_path.parent.mkdir(parents=True, exist_ok=True)
    staged = staging_path(fs_path)
    try:
        record = _write_staged(spark, model, dataset, staged, is_zip, format, stages, rewritten, xgboost_ops,
                               jvm_stages, forms, verify, sample_rows, say)
        put_in_place(staged, fs_path, force)
    finally:
        _remove(staged)
    record.path, record.uri = str(fs_path), uri
    return record


def _write_staged(spark, model, dataset, staged: Path, is_zip: bool, format: str, stages, rewritten, xgboost_ops,
                  jvm_stages, forms, verify, sample_rows, say) -> ExportRecord:
    """Write, correct, describe and verify the bundle at ``staged``; raises when the export fails.
    ``rewritten``: notes on the stages written as their equivalents (bundler/equivalents.py)."""
    from py4j.protocol import Py4JError
    from pyspark.errors.exceptions.captured import CapturedException

    written = model
    if xgboost_ops or rewritten:
        from pyspark.ml import PipelineModel

        written = PipelineModel(jvm_stages)
        written.uid = model.uid  # the bundle keeps the fitted model's name
    written = _as_model(written_model(written, forms), model.uid)
    written_stages = pipeline_stages(written)
    staged_uri = f"jar:file:{staged}" if is_zip else f"file:{staged}"
    say("transforming the sample (MLeap reads column metadata from it)")
    # what MLeap writes, transformed: a rewritten RFormula's own transform prunes columns MLeap reads
    transformed = (written if rewritten else model).transform(dataset)
    say(f"writing {format} bundle with MLeap's serializer")
    serializer = spark._jvm.ml.combust.mleap.spark.SimpleSparkSerializer()
    try:
        serializer.serializeToBundleWithFormat(java_model(written), staged_uri, transformed._jdf,
                                               _format_object(spark, format))
    except (Py4JError, CapturedException) as e:
        raise _java_error(e, written_stages, spark, transformed, format) from None
    if xgboost_ops:
        nodes = [xgboost_node(st, xgboost_ops[st.uid]) for st in stages if st.uid in xgboost_ops]
        order = [w.uid for st in stages for w in ([st] if st.uid in xgboost_ops else forms.get(st.uid, [st]))]
        add_xgboost_nodes(staged, is_zip, format, order, nodes)

    notes = [f"{st.uid}: the multi-column stage is written as one single-column node per column "
             f"({', '.join(w.uid for w in forms[st.uid])}): MLeap's op holds one column"
             for st in jvm_stages if any(w.uid != st.uid for w in forms.get(st.uid, ()))]
    fixups = rewritten + notes + apply_fixups(staged, is_zip, [*written_stages, *stages], root=model)
    described = describe_bundle(staged, dataset)
    info = described["info"]
    record = ExportRecord(
        path=str(staged), uri=staged_uri, format=info.format, mleap_version=info.version,
        spark_version=spark.version, stages=described["stages"], inputs=described["inputs"],
        outputs=described["outputs"], fixups=fixups,
    )
    if verify is not False:
        say("verifying: native runtime against Spark on a sample")
        record.verification = verify_bundle(model, dataset, staged, sample_rows,
                                            tolerances=verification_tolerances(stages))
        v = record.verification
        if "spark_cause" in v:
            raise SampleNotTransformable(v["spark_cause"])
        if verify and v["status"] != "ok":
            detail = v.get("reason") or "; ".join(v.get("mismatches", []))
            raise VerificationFailed(f"verification {v['status']}: {detail}")
    return record
