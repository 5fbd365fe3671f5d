"""Every op MLeap's JVM runtime registers is read by leapserve or refused with a reason.

The registry is read out of MLeap's runtime jars in leapserve's cache (`make jars`), so an op a
newer MLeap adds fails here until leapserve reads it or tools/mleap_registry.py REFUSED says why not.
"""

import subprocess
import zipfile
from pathlib import Path

import pytest

from leapserve.bundler import jars
from leapserve.runtime import supported_ops
from tools import mleap_registry
from tools.mleap_jvm import MLEAP_RUNTIME


@pytest.fixture(scope="module")
def registry() -> dict[str, str]:
    return mleap_registry.registry_ops()


def test_every_registry_op_is_read_or_refused(registry):
    assert mleap_registry.coverage_problems(registry, supported_ops(), mleap_registry.REFUSED) == []


def test_registry_read_from_the_jar(registry):
    confs = mleap_registry.Jars(MLEAP_RUNTIME.classpath()).reference_confs()
    classes = mleap_registry.registry_classes(confs)
    # One op per Op class reference.conf lists, none lost or merged.
    assert sorted(registry.values()) == sorted(classes)
    assert len(registry) > 60
    # opName() as a Bundle.BuiltinOps val and as a string constant in the Op class.
    assert registry["binarizer"] == "ml.combust.mleap.bundle.ops.feature.BinarizerOp"
    assert registry["sklearn_binarizer"] == "ml.combust.mleap.bundle.ops.sklearn.BinarizerOp"
    assert registry["lda_local_model_op"] == "ml.combust.mleap.bundle.ops.clustering.LDAModelOp"
    assert registry["pipeline"] == "ml.combust.mleap.bundle.ops.PipelineOp"


def test_refused_list_is_checked_both_ways(registry):
    read = supported_ops()
    refused = {**mleap_registry.REFUSED, "no_such_op": "made up", "binarizer": "leapserve reads it"}
    assert mleap_registry.coverage_problems(registry, read, refused) == [
        "REFUSED names op no_such_op, which MLeap's runtime registry does not have",
        "REFUSED names op binarizer, which leapserve now reads: take it out of REFUSED",
    ]
    dropped = sorted(mleap_registry.REFUSED)[0]
    without_one = {k: v for k, v in mleap_registry.REFUSED.items() if k != dropped}
    assert mleap_registry.coverage_problems(registry, read, without_one) == [
        f"op {dropped} ({registry[dropped]}) of MLeap's runtime registry is "
        "neither read by leapserve nor in tools/mleap_registry.py REFUSED"]


MODULE_SOURCE = """\
package leapserve.regtest;

public class BrandNewOp {
    public static class Model {
        public String opName() { return "brand_new_op"; }
    }
}
"""

# The form of an MLeap module's reference.conf (mleap-xgboost-runtime, mleap-tensorflow, ...).
MODULE_CONF = """\
leapserve.regtest.ops = [
  "leapserve.regtest.BrandNewOp"
]

ml.combust.mleap.registry.default.ops += "leapserve.regtest.ops"
"""


def test_an_op_a_new_module_registers_is_caught(tmp_path: Path):
    javac = jars.jdk_tool("javac")
    assert javac, "javac is needed (it builds the MLeap harness too)"
    source = tmp_path / "src" / "BrandNewOp.java"
    source.parent.mkdir()
    source.write_text(MODULE_SOURCE)
    classes = tmp_path / "classes"
    subprocess.run([javac, "-nowarn", "-d", str(classes), str(source)], check=True)
    module = tmp_path / "brand-new-module.jar"
    with zipfile.ZipFile(module, "w") as jar:
        jar.writestr("reference.conf", MODULE_CONF)
        for path in classes.rglob("*.class"):
            jar.write(path, path.relative_to(classes).as_posix())

    registry = mleap_registry.registry_ops([Path(p) for p in MLEAP_RUNTIME.classpath()] + [module])
    assert registry["brand_new_op"] == "leapserve.regtest.BrandNewOp"
    problems = mleap_registry.coverage_problems(registry, supported_ops(), mleap_registry.REFUSED)
    assert problems == ["op brand_new_op (leapserve.regtest.BrandNewOp) of MLeap's runtime registry is "
                        "neither read by leapserve nor in tools/mleap_registry.py REFUSED"]


def test_registry_classes_follow_included_lists():
    confs = ['a.ops = [ "x.A", "b.ops" ]\n# "x.Commented"\nb.ops = [\n  "x.B",\n]\n'
             'ml.combust.mleap.registry.default.ops += "a.ops"\n',
             'ml.combust.mleap.registry.default.ops += "x.C"\nunrelated.list = [ "x.D" ]\n']
    assert mleap_registry.registry_classes(confs) == ["x.A", "x.B", "x.C"]
