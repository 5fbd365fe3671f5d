"""A Spark ML model saved with ``model.save(DIR)``: what it holds, read from its metadata without
Spark, and loading it as a PipelineModel.

    check_pipeline_model(Path("model"))      # NotAPipelineModel, with the fix, before Spark starts
    model = load_pipeline_model(Path("model"))

Errors name the directory; the messages are meant for the user as they are.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from .errors import BundlerError, NotAPipelineModel, java_root_cause

PIPELINE_MODEL_CLASS = "org.apache.spark.ml.PipelineModel"


def saved_metadata(model_dir: Path) -> dict:
    """A saved Spark ML object's metadata (class, uid, sparkVersion, paramMap, ...)."""
    if not model_dir.exists():
        raise BundlerError(f"{model_dir}: no such directory")
    if not model_dir.is_dir():
        raise NotAPipelineModel(f"{model_dir} is a file, not a saved PipelineModel "
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
            return doc
    raise NotAPipelineModel(f"{model_dir} is not a saved PipelineModel: it has no Spark ML metadata "
                            f"(metadata/part-*); save the fitted pipeline with model.save(path)")


def saved_class(model_dir: Path) -> str:
    """The class recorded in a saved Spark ML object's metadata."""
    return saved_metadata(model_dir)["class"]


def saved_stages(model_dir: Path) -> list[dict]:
    """The metadata of every stage of a saved pipeline, nested pipelines opened, in order."""
    found = []
    stages = model_dir / "stages"
    for stage in sorted(stages.iterdir()) if stages.is_dir() else []:
        try:
            meta = saved_metadata(stage)
        except BundlerError:
            continue
        found.append(meta)
        if meta["class"] in (PIPELINE_MODEL_CLASS, PYTHON_PIPELINE_MODEL_CLASS):
            found.extend(saved_stages(stage))
    return found


# A PipelineModel with Python-only stages is saved by PySpark under this class; the export
# writes those stages when they are XGBoost's PySpark models (bundler/xgboost_stages.py).
PYTHON_PIPELINE_MODEL_CLASS = "pyspark.ml.pipeline.PipelineModel"
EXPORTABLE_PYTHON_STAGES = ("xgboost.spark.",)


def _python_only_stages(model_dir: Path) -> list[str]:
    """The classes of the saved stages that neither the JVM nor the export knows."""
    stages = model_dir / "stages"
    found = []
    for stage in sorted(stages.iterdir()) if stages.is_dir() else []:
        cls = saved_class(stage)
        if not cls.startswith("org.apache.spark.") and not cls.startswith(EXPORTABLE_PYTHON_STAGES):
            found.append(cls)
    return found


def check_pipeline_model(model_dir: Path) -> None:
    """Refuse, saying what to do instead, a directory that does not hold a saved PipelineModel."""
    cls = saved_class(model_dir)
    if cls == PIPELINE_MODEL_CLASS:
        return
    if cls == PYTHON_PIPELINE_MODEL_CLASS and not _python_only_stages(model_dir):
        return
    if cls == "org.apache.spark.ml.Pipeline":
        hint = "it is an unfitted Pipeline; fit it and save the PipelineModel"
    elif cls == PYTHON_PIPELINE_MODEL_CLASS:
        hint = (f"it has Python-only stages that MLeap cannot export: "
                f"{', '.join(_python_only_stages(model_dir))}")
    elif cls.startswith("pyspark."):
        hint = (f"it was saved by Python ({cls}), which means it has Python-only stages "
                f"that MLeap cannot export")
    else:
        hint = (f"it holds {cls}; wrap the model in a pipeline and save that: "
                f"PipelineModel(stages=[model]).save(path)")
    raise NotAPipelineModel(f"{model_dir} is not a saved PipelineModel: {hint}")


def _holds_xgboost4j(model_dir: Path) -> bool:
    """Whether a stage of the saved pipeline (nested pipelines too) is an xgboost4j-spark model."""
    from .xgboost_stages import XGBOOST4J_CLASSES

    stages = model_dir / "stages"
    for stage in sorted(stages.iterdir()) if stages.is_dir() else []:
        try:
            cls = saved_class(stage)
        except BundlerError:
            continue
        if cls in XGBOOST4J_CLASSES or (cls == PIPELINE_MODEL_CLASS and _holds_xgboost4j(stage)):
            return True
    return False


def load_pipeline_model(model_dir: Path):
    """The PipelineModel saved in ``model_dir``, loaded by Spark (the session must be running).

    xgboost4j-spark's models, which PySpark cannot load, come wrapped (bundler/xgboost4j.py);
    their jars must be on the session's classpath (BundlerError naming the fetch command if not)."""
    from py4j.protocol import Py4JJavaError
    from pyspark.ml import PipelineModel

    try:
        if _holds_xgboost4j(model_dir):
            from . import jars
            from .xgboost4j import load_pipeline_with_xgboost4j

            if not jars.is_complete(jars.XGBOOST4J_SPARK.folder):
                raise BundlerError(f"{model_dir} holds xgboost4j-spark models, whose jars are not fetched. "
                                   f"{jars.XGBOOST4J_FETCH_HINT}")
            return load_pipeline_with_xgboost4j(str(model_dir.resolve()))
        return PipelineModel.load(str(model_dir.resolve()))
    except Py4JJavaError as e:
        cause = java_root_cause(e)
        raise BundlerError(_newer_spark_stage(model_dir, cause)
                           or f"{model_dir}: Spark cannot load it as a PipelineModel: {cause}",
                           java_trace=str(e)) from e


def _newer_spark_stage(model_dir: Path, cause: str) -> str | None:
    """Why the running Spark cannot load a stage saved by another Spark: its class does not exist
    here (e.g. Spark 4's TargetEncoderModel), or it has a param this Spark does not know; None when
    the failure is something else. Names the stage (uid, class) and the Spark that saved it."""
    from pyspark import __version__ as running

    from .session import spark_session

    jvm = spark_session()._jvm
    unknown_param = re.fullmatch(r"java\.util\.NoSuchElementException: Param (\S+) does not exist\.", cause)
    for meta in saved_stages(model_dir):
        cls, uid, saved_by = meta["class"], meta.get("uid", "?"), meta.get("sparkVersion", "an unknown version")
        stage = f"stage {uid!r} ({cls}) was saved by Spark {saved_by}"
        if unknown_param:
            params = {**(meta.get("paramMap") or {}), **(meta.get("defaultParamMap") or {})}
            if unknown_param.group(1) in params:
                return (f"{model_dir}: {stage} with param {unknown_param.group(1)!r}, which Spark {running} "
                        f"does not have: it cannot load the stage; export with a Spark that has it, or fit "
                        f"the stage without that param")
            continue
        if not cls.startswith("org.apache.spark."):
            continue
        try:
            jvm.java.lang.Class.forName(cls)
        except Exception:
            return (f"{model_dir}: {stage}, and Spark {running} has no such class: it cannot load the "
                    f"stage (leapserve export runs Spark {running}; pipelines saved by Spark 4 load when "
                    f"their stages exist in Spark 3.5, see docs/export.md)")
    return None
