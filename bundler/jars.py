"""MLeap's Spark serializer jars: fetched through Maven into a cache outside git, found again by the
session.

A jar set is what Maven resolves from one small pom (``bundler/jvm/mleap-spark.pom.xml`` here; the
test suite's MLeap runtime harness has its own, tools/mleap_jvm). Each set lands in
``<cache>/jars/<set>-<hash of its pom>/`` and is only used once a ``.complete`` marker is written,
so an interrupted download is never mistaken for a finished one.

Run ``python -m leapserve.bundler.jars fetch`` (``make jars`` does) to fetch them; it is a no-op when
the jars are already there. It also compiles leapserve's own ops for MLeap's Spark serializer
(``SPARK_OPS``, Java sources in ``bundler/jvm/spark_ops/``) and writes the registry config that
hands MLeap its op list with them in it. xgboost4j-spark's jars (``bundler/jvm/xgboost4j-spark.pom.xml``), needed
only to export pipelines holding its Scala models, are an optional set: ``... fetch --xgboost4j``
fetches them, and the session puts them on its classpath when they are there.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Callable

from .errors import JarsMissing

JVM_DIR = Path(__file__).resolve().parent / "jvm"

MLEAP_SPARK_VERSION = "0.16.0"

FETCH_HINT = "Fetch them with `make jars` (or `python -m leapserve.bundler.jars fetch`)."


def cache_dir() -> Path:
    """Where downloaded jars and compiled helpers live (never inside the git checkout)."""
    explicit = os.environ.get("LEAPSERVE_CACHE")
    if explicit:
        return Path(explicit).expanduser().resolve()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "leapserve"


def digest(*paths: Path, text: str = "") -> str:
    h = hashlib.sha256()
    for p in paths:
        h.update(p.read_bytes())
    h.update(text.encode("utf-8"))
    return h.hexdigest()[:12]


COMPLETE = ".complete"  # written last into a finished folder


def is_complete(folder: Path) -> bool:
    """Whether ``folder`` was finished (build_once moved it into place), not left half-written."""
    return (folder / COMPLETE).exists()


def build_once(where: Path, build: Callable[[Path], None]) -> None:
    """Run build(staging) in a fresh folder beside ``where`` and move it into place, marked
    complete; nothing when ``where`` is complete already."""
    if is_complete(where):
        return
    where.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{where.name}-", dir=where.parent))
    try:
        build(staging)
        (staging / COMPLETE).write_text("ok\n")
        if where.exists():
            shutil.rmtree(where)
        staging.rename(where)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


@dataclass(frozen=True)
class JarSet:
    """The jars Maven resolves from one pom, cached under a hash of the pom."""

    name: str
    pom: Path
    fetch_hint: str = FETCH_HINT

    @cached_property
    def pom_digest(self) -> str:
        return digest(self.pom)

    @property
    def folder(self) -> Path:
        """Read anew each time: the cache's place may change (LEAPSERVE_CACHE), the pom does not."""
        return cache_dir() / "jars" / f"{self.name}-{self.pom_digest}"

    def classpath(self) -> list[str]:
        """The set's jars; raises JarsMissing when the set is not (completely) there."""
        folder = self.folder
        if not is_complete(folder):
            raise JarsMissing(self.name, folder, self.fetch_hint)
        return sorted(str(p) for p in folder.glob("*.jar"))

    def fetch(self, log) -> None:
        """Fetch the jars with Maven; quick when they are there."""
        if is_complete(self.folder):
            return
        mvn = shutil.which("mvn")
        if not mvn:
            raise RuntimeError(f"Maven (mvn) is needed to fetch the {self.name} jars but is not on PATH")
        log(f"fetching {self.name} jars into {self.folder} ...")

        def build(staging: Path) -> None:
            subprocess.run(
                [mvn, "-q", "-B", "-Dstyle.color=never", "-f", str(self.pom), "dependency:copy-dependencies",
                 f"-DoutputDirectory={staging}", "-DincludeScope=runtime"],
                check=True,
            )

        build_once(self.folder, build)


MLEAP_SPARK = JarSet("mleap-spark", JVM_DIR / "mleap-spark.pom.xml")

XGBOOST4J_FETCH_HINT = "Fetch them with `python -m leapserve.bundler.jars fetch --xgboost4j`."
XGBOOST4J_SPARK = JarSet("xgboost4j-spark", JVM_DIR / "xgboost4j-spark.pom.xml", XGBOOST4J_FETCH_HINT)


def optional_classpath() -> list[str]:
    """The optional sets' jars that are fetched (xgboost4j-spark's), for the session's classpath."""
    return XGBOOST4J_SPARK.classpath() if is_complete(XGBOOST4J_SPARK.folder) else []


# --- leapserve's own Spark ops ---------------------------------------------------------------
# MLeap's registry is configuration: a list of op classes, each the writer (and reader) of one Spark
# class. leapserve's ops are Java classes compiled against MLeap's and PySpark's jars at fetch time,
# put on the session's classpath, and listed in the registry config handed to the JVM, each in
# the place of the MLeap op it replaces (MLeap keeps one op per Spark class and per op name).

SPARK_OPS_SOURCES = JVM_DIR / "spark_ops"


@dataclass(frozen=True)
class SparkOp:
    """One of leapserve's ops: its Java class (in SPARK_OPS_SOURCES), and the MLeap op for the
    same Spark class that it replaces in the registry (None for a class MLeap has no op for)."""

    op_class: str
    replaces: str | None = None


_OURS = "dev.leapserve.spark.ops."
_MLEAP = "org.apache.spark.ml.bundle.ops."

SPARK_OPS: tuple[SparkOp, ...] = (
    SparkOp(_OURS + "MultilayerPerceptronOp", _MLEAP + "classification.MultiLayerPerceptronClassifierOp"),
    SparkOp(_OURS + "NaiveBayesOp", _MLEAP + "classification.NaiveBayesClassifierOp"),
    SparkOp(_OURS + "StringIndexerOp", _MLEAP + "feature.StringIndexerOp"),
    SparkOp(_OURS + "ImputerOp"),
    SparkOp(_OURS + "LdaOp", _MLEAP + "clustering.LDAModelOp"),
    SparkOp(_OURS + "DistributedLdaOp"),
    SparkOp(_OURS + "VectorSizeHintOp"),
    SparkOp(_OURS + "ColumnMathOp$UnaryOp"),
    SparkOp(_OURS + "ColumnMathOp$BinaryOp"),
    SparkOp(_OURS + "FMClassifierOp"),
    SparkOp(_OURS + "FMRegressorOp"),
    SparkOp(_OURS + "FPGrowthOp"),
)


def spark_ops_sources() -> list[Path]:
    return sorted(SPARK_OPS_SOURCES.glob("*.java"))


def pyspark_jars() -> list[str]:
    """PySpark's own jars (Spark, Scala), which the ops are compiled against."""
    spec = importlib.util.find_spec("pyspark")
    folder = Path(next(iter(spec.submodule_search_locations))) / "jars" if spec else None
    if folder is None or not folder.is_dir():
        raise RuntimeError("pyspark (with its jars) is needed to compile leapserve's Spark ops; "
                           "install leapserve[bundler]")
    return sorted(str(p) for p in folder.glob("*.jar"))


def spark_ops_dir() -> Path:
    """Compiled ops (classes/) and the registry config, keyed by the sources, the op list, MLeap's
    pom and the PySpark they are compiled against."""
    return cache_dir() / "spark-ops" / _spark_ops_key(tuple(spark_ops_sources()))


@functools.lru_cache(maxsize=None)
def _spark_ops_key(sources: tuple[Path, ...]) -> str:
    """Hashed once per process and list of sources (a session asks on every start): the files, the
    pom and PySpark do not change under a running process. The cache's place is read anew by
    spark_ops_dir, as LEAPSERVE_CACHE may change."""
    from importlib.metadata import version

    return digest(*sources, MLEAP_SPARK.pom, text=repr((SPARK_OPS, version("pyspark"))))


def spark_ops_classpath() -> list[str]:
    """The compiled ops' folder, for the session's classpath; raises JarsMissing when not built."""
    where = spark_ops_dir()
    if not is_complete(where):
        raise JarsMissing("leapserve's Spark ops", where, MLEAP_SPARK.fetch_hint)
    return [str(where / "classes")]


def spark_registry_conf() -> Path:
    """The Typesafe config file (passed to the JVM with -Dconfig.file) that replaces MLeap's Spark
    op list: MLeap's own ops, with leapserve's in the place of those they replace."""
    where = spark_ops_dir()
    if not is_complete(where):
        raise JarsMissing("leapserve's Spark ops", where, MLEAP_SPARK.fetch_hint)
    return where / "leapserve-registry.conf"


def mleap_builtin_ops() -> list[str]:
    """The op classes of MLeap's Spark registry, read from the reference.conf in its jar."""
    jar = MLEAP_SPARK.folder / f"mleap-spark_2.12-{MLEAP_SPARK_VERSION}.jar"
    text = zipfile.ZipFile(jar).read("reference.conf").decode("utf-8")
    block = re.search(r"ml\.combust\.mleap\.spark\.registry\.builtin-ops\s*=\s*\[(.*?)\]", text, re.S)
    if not block:
        raise RuntimeError(f"no builtin-ops list in {jar}!reference.conf")
    return re.findall(r'"([^"]+)"', block.group(1))


def registry_ops(builtin: list[str], ops=SPARK_OPS) -> list[str]:
    """MLeap's op list with each replaced op swapped for leapserve's, and leapserve's other ops
    appended."""
    replacing = {op.replaces: op.op_class for op in ops if op.replaces}
    unknown = sorted(set(replacing) - set(builtin))
    if unknown:
        raise RuntimeError(f"SPARK_OPS replaces ops MLeap's registry does not list: {unknown}")
    return [replacing.get(op, op) for op in builtin] + [op.op_class for op in ops if not op.replaces]


def build_spark_ops(log) -> None:
    """Compile leapserve's ops and write the registry config; quick when both are in place."""
    classpath = MLEAP_SPARK.classpath() + pyspark_jars()

    def finish(staging: Path) -> None:
        ops = registry_ops(mleap_builtin_ops())
        for op in SPARK_OPS:
            if not (staging / "classes" / (op.op_class.replace(".", "/") + ".class")).is_file():
                raise RuntimeError(f"SPARK_OPS names {op.op_class}, which no source in {SPARK_OPS_SOURCES} defines")
        lines = ["# Generated by bundler/jars.py (registry_ops): MLeap's Spark ops, with leapserve's own",
                 "# (SPARK_OPS) in the place of those they replace.",
                 "ml.combust.mleap.spark.registry.builtin-ops = ["]
        lines += [f'  "{op}",' for op in ops]
        lines += ["]", ""]
        (staging / "leapserve-registry.conf").write_text("\n".join(lines))

    compile_java(spark_ops_sources(), classpath, spark_ops_dir(), log, "leapserve's Spark ops",
                 into="classes", finish=finish)


def compile_java(sources: list[Path], classpath: list[str], where: Path, log, what: str,
                 into: str = "", finish: Callable[[Path], None] | None = None) -> None:
    """javac ``sources`` against ``classpath`` into ``where/into`` (then ``finish(folder)``), built
    once (build_once); nothing when ``where`` is complete."""
    if is_complete(where):
        return
    javac = jdk_tool("javac")
    if not javac:
        raise RuntimeError(f"javac is needed to build {what} but is not on PATH")
    log(f"compiling {what} into {where} ...")

    def build(staging: Path) -> None:
        out = staging / into
        out.mkdir(parents=True, exist_ok=True)
        subprocess.run([javac, "-nowarn", "-d", str(out), "-cp", os.pathsep.join(classpath),
                        *map(str, sources)], check=True)
        if finish is not None:
            finish(staging)

    build_once(where, build)


def jdk_tool(name: str) -> str | None:
    """A JDK program (java, javac, jcmd): JAVA_HOME's bin/<name>, else <name> on PATH, else None."""
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / name).exists():
        return str(Path(home) / "bin" / name)
    return shutil.which(name)


def java_executable() -> str:
    """The java to run (plain "java" when none is found, for the caller's error to name)."""
    return jdk_tool("java") or "java"


def fetch(log=lambda msg: print(msg, file=sys.stderr), xgboost4j: bool = False) -> None:
    """Fetch MLeap's Spark jars (and xgboost4j-spark's when asked) and build leapserve's Spark ops;
    quick when they are in place."""
    MLEAP_SPARK.fetch(log)
    build_spark_ops(log)
    if xgboost4j:
        XGBOOST4J_SPARK.fetch(log)


USAGE = "usage: python -m leapserve.bundler.jars fetch [--xgboost4j] | path"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["fetch"] and args[1:] in ([], ["--xgboost4j"]):
        fetch(xgboost4j=args[1:] == ["--xgboost4j"])
        return 0
    if args == ["path"]:
        print(cache_dir())
        return 0
    print(USAGE, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
