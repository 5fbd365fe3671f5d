"""Spark stages MLeap's serializer has no op for, rewritten as stages it writes, with the same transform.

    stages, notes = writable_stages(pipeline_stages(model))

Each rewrite is exact: the replacement's ``transform`` is the same Spark code on the same numbers,
so the bundle scores as the original stage does (the export's verification and the parity tests
compare with the original's own ``transform``). The replacements are ordinary MLeap ops, so MLeap's
JVM runtime reads these bundles too.

* RFormulaModel: the stages of its fitted pipeline (string indexers, interactions, one-hot
  encoder, vector assembler; the last two, named after the RFormula, renamed <uid>_<class>), without the two that only rename metadata or drop its temporary
  columns (VectorAttributeRewriter, ColumnPruner), and without the label's: Spark's transform
  indexes (string) or casts (number) the label only when the label column is there, which a
  served request does not send. The bundle never reads the label; its outputs are the features
  column plus the temporary columns Spark prunes.
* RobustScalerModel: a StandardScalerModel with mean = median and std = range; both models call
  StandardScalerModel.getTransformFunc with shift = median / mean and scale = 1 / range / std
  (0 where that is 0), so centering and scaling map onto withMean and withStd.
* VarianceThresholdSelectorModel and UnivariateFeatureSelectorModel: a ChiSqSelectorModel with the
  same selected features; all three transform through Spark's SelectorModel.transform.
"""

from __future__ import annotations

from .errors import StageNotSerializable

_FEATURE = "org.apache.spark.ml.feature."
RFORMULA = _FEATURE + "RFormulaModel"
ROBUST_SCALER = _FEATURE + "RobustScalerModel"
SELECTORS = (_FEATURE + "VarianceThresholdSelectorModel", _FEATURE + "UnivariateFeatureSelectorModel")
# RFormula's stages that change only column metadata or drop its temporary columns.
_METADATA_ONLY = (_FEATURE + "VectorAttributeRewriter", _FEATURE + "ColumnPruner")


def _class(java_obj) -> str:
    return java_obj.getClass().getName()


def _wrap(java_obj):
    """The pyspark wrapper of a JVM stage, its params read back from the JVM."""
    from pyspark.ml.wrapper import JavaParams

    return JavaParams._from_java(java_obj)


def _set(java_obj, name: str, value) -> None:
    java_obj.set(java_obj.getParam(name), value)


def _rformula_stages(stage) -> tuple[list, str]:
    java = stage._java_obj
    label = java.resolvedFormula().label()
    label_col = java.getLabelCol()
    fitted = java.pipelineModel().stages()
    kept, label_stages = [], []
    for i in range(len(fitted)):
        inner = fitted[i]
        cls = _class(inner)
        if cls in _METADATA_ONLY:
            continue
        if (cls == _FEATURE + "StringIndexerModel" and label and inner.isDefined(inner.getParam("inputCol"))
                and inner.getInputCol() == label and inner.getOutputCol() == label_col):
            label_stages.append(inner.uid())
            continue
        if inner.uid() == stage.uid:
            # RFormula names its one-hot encoder and assembler after itself; bundle nodes need apart names
            inner = _renamed(stage, inner)
        kept.append(_wrap(inner))
    note = (f"{stage.uid}: RFormulaModel written as its {len(kept)} fitted stages "
            f"({', '.join(st.uid for st in kept)}); the label {label!r} is not read"
            if label else f"{stage.uid}: RFormulaModel written as its {len(kept)} fitted stages "
                          f"({', '.join(st.uid for st in kept)})")
    return kept, note


def _renamed(stage, inner):
    """A copy of RFormula's one-hot encoder or assembler under the uid <RFormula uid>_<its class>."""
    jvm, cls = _jvm(), _class(inner)
    name = cls.rsplit(".", 1)[-1]
    uid = f"{stage.uid}_{name}"
    if cls == _FEATURE + "VectorAssembler":
        copy = jvm.org.apache.spark.ml.feature.VectorAssembler(uid)
    elif cls == _FEATURE + "OneHotEncoderModel":
        copy = jvm.org.apache.spark.ml.feature.OneHotEncoderModel(uid, inner.categorySizes())
    else:
        raise StageNotSerializable(stage.uid, RFORMULA, f"its fitted stage {name} shares its uid and cannot be renamed")
    return inner.copyValues(copy, jvm.org.apache.spark.ml.param.ParamMap())


def _robust_scaler(stage):
    java = stage._java_obj
    scaler = _jvm().org.apache.spark.ml.feature.StandardScalerModel(stage.uid, java.range(), java.median())
    _set(scaler, "withMean", bool(java.getWithCentering()))
    _set(scaler, "withStd", bool(java.getWithScaling()))
    scaler.setInputCol(java.getInputCol())
    scaler.setOutputCol(java.getOutputCol())
    return _wrap(scaler), (f"{stage.uid}: RobustScalerModel written as standard_scaler "
                     f"(mean = median, std = range)")


def _selector(stage):
    java = stage._java_obj
    selector = _jvm().org.apache.spark.ml.feature.ChiSqSelectorModel(stage.uid, java.selectedFeatures())
    selector.setFeaturesCol(java.getFeaturesCol())
    selector.setOutputCol(java.getOutputCol())
    name = _class(java).rsplit(".", 1)[-1]
    return _wrap(selector), f"{stage.uid}: {name} written as chi_sq_selector (the same selected features)"


def _jvm():
    from .session import spark_session

    return spark_session()._jvm


def writable_stages(stages) -> tuple[list, list[str]]:
    """``stages`` with each stage listed above replaced by what MLeap writes, and a note per
    replacement (what the export record's ``fixups`` reports)."""
    out, notes = [], []
    for stage in stages:
        java = getattr(stage, "_java_obj", None)
        cls = _class(java) if java is not None else ""
        try:
            if cls == RFORMULA:
                kept, note = _rformula_stages(stage)
                out.extend(writable_stages(kept)[0])
            elif cls == ROBUST_SCALER:
                replaced, note = _robust_scaler(stage)
                out.append(replaced)
            elif cls in SELECTORS:
                replaced, note = _selector(stage)
                out.append(replaced)
            else:
                out.append(stage)
                continue
        except StageNotSerializable:
            raise
        except Exception as e:  # a Spark release whose internals differ from 3.5's
            raise StageNotSerializable(stage.uid, cls, f"could not rewrite it as stages MLeap writes: {e}") from None
        notes.append(note)
    return out, notes
