"""Every Transformer class of Spark 3.5 is either exported (with its parity test) or refused with a
reason, in the one table docs/export.md shows (leapserve/bundler/spark_stages.py).

The enumeration is pyspark.ml's public Transformer subclasses: every fitted stage a PipelineModel
holds is one of them (each wraps the JVM class of the same name, which is what MLeap's serializer
looks up), and listing them needs no JVM."""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path

from leapserve.bundler import jars, spark_stages
from leapserve.bundler.spark_stages import EQUIVALENT, LEAPSERVE, Exported, Refused
from tools.opsdoc import parity_tests

REPO = Path(__file__).resolve().parents[2]


def spark_transformers() -> set[str]:
    """Names under org.apache.spark.ml of pyspark.ml's public, concrete Transformer classes."""
    from pyspark.ml.base import Transformer

    found = set()
    for module_name in spark_stages.MODULES:
        module = importlib.import_module(f"pyspark.ml.{module_name}")
        for name in module.__all__:
            obj = getattr(module, name)
            if inspect.isclass(obj) and issubclass(obj, Transformer) and not inspect.isabstract(obj):
                found.add(f"{module_name}.{name}")
    return found


def test_every_spark_transformer_is_exported_or_refused():
    listed = set(spark_stages.stages())
    found = spark_transformers()
    assert not found - listed, f"Spark stages in neither list of spark_stages.py: {sorted(found - listed)}"
    assert not listed - found, f"listed but not Spark 3.5 stages: {sorted(listed - found)}"
    assert len(spark_stages.stages()) == len(spark_stages.EXPORTED) + len(spark_stages.REFUSED)


def test_each_exported_stage_names_a_parity_test_of_its_ops():
    declared = parity_tests()
    for entry in spark_stages.EXPORTED:
        path, _, name = entry.parity_test.partition("::")
        assert (REPO / path).is_file() and f"def {name}(" in (REPO / path).read_text(), entry
        for op in entry.ops:
            assert entry.parity_test in declared.get(op, []), f"{entry.parity_test} does not declare parity for {op}"


def test_refusals_give_a_reason():
    for entry in spark_stages.REFUSED:
        assert len(entry.reason) > 30, entry


def test_export_doc_shows_the_table():
    doc = (REPO / "docs" / "export.md").read_text()
    assert spark_stages.markdown_table() in doc, "docs/export.md: paste `python -m leapserve.bundler.spark_stages`"


def test_the_serializer_registry_agrees(spark):
    """A stage listed as written by an op has it in the session's registry (MLeap's or leapserve's);
    a refused stage has none, so an op added for it fails here until the table says so."""
    registry = spark._jvm.org.apache.spark.ml.bundle.SparkBundleContext.defaultContext().bundleRegistry()
    aliases = registry.opAlias()
    ours = {op.op_class for op in jars.SPARK_OPS}
    wrong = []
    for entry in spark_stages.stages().values():
        cls = spark_stages.java_class(entry.name)
        if isinstance(entry, Refused) or entry.writer == EQUIVALENT:
            if aliases.contains(cls):
                wrong.append(f"{cls} has an op now: update spark_stages.py")
        elif not aliases.contains(cls):
            wrong.append(f"{cls}: no op in the serializer's registry")
        else:
            op_class = registry.ops().apply(aliases.apply(cls)).getClass().getName()
            if (op_class in ours) != (entry.writer == LEAPSERVE):
                wrong.append(f"{cls} is written by {op_class}, the table says {entry.writer}")
    assert not wrong, "\n".join(wrong)


def test_equivalent_stages_are_rewritten():
    from leapserve.bundler import equivalents

    rewritten = {equivalents.RFORMULA, equivalents.ROBUST_SCALER, equivalents.SQL_TRANSFORMER,
                 *equivalents.SELECTORS}
    listed = {spark_stages.java_class(e.name) for e in spark_stages.EXPORTED if e.writer == EQUIVALENT}
    assert listed == rewritten


def test_table_rows_are_well_formed():
    for entry in spark_stages.EXPORTED:
        assert isinstance(entry, Exported) and entry.writer in spark_stages.WRITERS and entry.ops


def test_a_refused_stage_fails_the_export_with_the_tables_reason(spark, tmp_path, monkeypatch):
    """Every Spark 3.5 stage with a row-wise meaning exports now; the refusal path stays for the
    next one (a new Spark class, a removed op), so it is tried on a real stage the table refuses here."""
    import pytest
    from pyspark.ml.fpm import FPGrowth

    from leapserve.bundler import StageNotSerializable, export_bundle

    reason = "refused by this test: the table's reason reaches the user"
    monkeypatch.setattr(spark_stages, "REFUSED", (*spark_stages.REFUSED, Refused("fpm.FPGrowthModel", reason)))
    baskets = spark.createDataFrame([(["a", "b"],), (["a", "b", "c"],), (["b", "c"],)], ["items"])
    model = FPGrowth(minSupport=0.3, minConfidence=0.5).fit(baskets)
    with pytest.raises(StageNotSerializable) as err:
        export_bundle(model, baskets, tmp_path / "fp.zip")
    assert "org.apache.spark.ml.fpm.FPGrowthModel" in str(err.value) and reason in str(err.value)
    assert not (tmp_path / "fp.zip").exists()
