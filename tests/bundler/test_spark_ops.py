"""leapserve's own ops for MLeap's Spark serializer (bundler/jvm/spark_ops/, jars.SPARK_OPS): the
registry config that lists them, and the session that uses them."""

from __future__ import annotations

import pytest

from leapserve.bundler import jars

MLEAP = "org.apache.spark.ml.bundle.ops."


def test_registry_ops_replace_in_place_and_append():
    builtin = [MLEAP + "A", MLEAP + "B", MLEAP + "C"]
    ops = (jars.SparkOp("x.NewB", replaces=MLEAP + "B"), jars.SparkOp("x.Extra"))
    assert jars.registry_ops(builtin, ops, excluded={}) == [MLEAP + "A", "x.NewB", MLEAP + "C", "x.Extra"]
    # an excluded op stays out, unless one of ours takes its place
    assert jars.registry_ops(builtin, (), excluded={MLEAP + "C": "breaks"}) == [MLEAP + "A", MLEAP + "B"]
    assert jars.registry_ops(builtin, (jars.SparkOp("x.NewC", replaces=MLEAP + "C"),),
                             excluded={MLEAP + "C": "breaks"}) == [MLEAP + "A", MLEAP + "B", "x.NewC"]
    with pytest.raises(RuntimeError, match=r"replaces ops MLeap's registry does not list: \['y.Gone'\]"):
        jars.registry_ops(builtin, (jars.SparkOp("x.New", replaces="y.Gone"),), excluded={})


def test_generated_registry_lists_every_op():
    """The config the session hands the JVM: MLeap's list as generated, each of ours once, none of
    the ops they replace or the excluded ones."""
    text = jars.spark_registry_conf().read_text()
    assert text.count("ml.combust.mleap.spark.registry.builtin-ops = [") == 1
    listed = [line.strip().strip('",') for line in text.splitlines() if line.startswith('  "')]
    assert listed == jars.registry_ops(jars.mleap_builtin_ops())
    for op in jars.SPARK_OPS:
        assert listed.count(op.op_class) == 1
        assert op.replaces not in listed
    assert not set(jars.EXCLUDED_SPARK_OPS) & set(listed)


def test_session_registry_has_leapserve_ops(spark):
    """MLeap's registry in the session writes each Spark class with our op (under our op's name)."""
    registry = spark._jvm.org.apache.spark.ml.bundle.SparkBundleContext.defaultContext().bundleRegistry()
    for op in jars.SPARK_OPS:
        java_class = spark._jvm
        for part in op.op_class.split("."):
            java_class = getattr(java_class, part)
        instance = java_class()
        assert registry.opAlias().apply(instance.klazz().getCanonicalName()) == instance.Model().opName()
        assert registry.ops().apply(instance.Model().opName()).getClass().getName() == op.op_class
