"""MLeap's Spark serializer jars: fetched through Maven into a cache outside git, found again by the
session.

A jar set is what Maven resolves from one small pom (``bundler/jvm/mleap-spark.pom.xml`` here; the
test suite's MLeap runtime harness has its own, tools/mleap_jvm). Each set lands in
``<cache>/jars/<set>-<hash of its pom>/`` and is only used once a ``.complete`` marker is written,
so an interrupted download is never mistaken for a finished one.

Run ``python -m leapserve.bundler.jars fetch`` (``make jars`` does) to fetch them; it is a no-op when
the jars are already there. xgboost4j-spark's jars (``bundler/jvm/xgboost4j-spark.pom.xml``), needed
only to export pipelines holding its Scala models, are an optional set: ``... fetch --xgboost4j``
fetches them, and the session puts them on its classpath when they are there.
"""

from __future__ import annotations

import hashlib
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

# MLeap 0.16's Spark op registry lists ops that cannot link against Spark 3.5; the registry
# instantiates every listed op up front, so one such op breaks every export. These are left out
# of the registry we hand to MLeap (see docs/mleap-version.md).
EXCLUDED_SPARK_OPS = {
    "org.apache.spark.ml.bundle.ops.clustering.LDAModelOp":
        "built against breeze 0.13 (Spark 2.4); fails to link on Spark 3.5",
}

FETCH_HINT = "Fetch them with `make jars` (or `python -m leapserve.bundler.jars fetch`)."


def cache_dir() -> Path:
    """Where downloaded jars and compiled helpers live (never inside the git checkout)."""
    explicit = os.environ.get("LEAPSERVE_CACHE")
    if explicit:
        return Path(explicit).expanduser().resolve()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "leapserve"


def digest(*paths: Path) -> str:
    h = hashlib.sha256()
    for p in paths:
        h.update(p.read_bytes())
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

    def fetch(self, log, finish: Callable[[Path], None] | None = None) -> None:
        """Fetch the jars with Maven (then ``finish(folder)``); quick when they are there."""
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
            if finish is not None:
                finish(staging)

        build_once(self.folder, build)


MLEAP_SPARK = JarSet("mleap-spark", JVM_DIR / "mleap-spark.pom.xml")

XGBOOST4J_FETCH_HINT = "Fetch them with `python -m leapserve.bundler.jars fetch --xgboost4j`."
XGBOOST4J_SPARK = JarSet("xgboost4j-spark", JVM_DIR / "xgboost4j-spark.pom.xml", XGBOOST4J_FETCH_HINT)


def optional_classpath() -> list[str]:
    """The optional sets' jars that are fetched (xgboost4j-spark's), for the session's classpath."""
    return XGBOOST4J_SPARK.classpath() if is_complete(XGBOOST4J_SPARK.folder) else []


def spark_registry_conf() -> Path:
    """A Typesafe config file that replaces MLeap's Spark op list by the ops that link on Spark 3.5.

    Written next to the jars from the reference.conf inside the mleap-spark jar itself.
    """
    where = MLEAP_SPARK.folder
    conf = where / "leapserve-registry.conf"
    if not conf.exists():
        raise JarsMissing(MLEAP_SPARK.name, where, MLEAP_SPARK.fetch_hint)
    return conf


def _write_spark_registry_conf(where: Path) -> None:
    jar = where / f"mleap-spark_2.12-{MLEAP_SPARK_VERSION}.jar"
    text = zipfile.ZipFile(jar).read("reference.conf").decode("utf-8")
    block = re.search(r"ml\.combust\.mleap\.spark\.registry\.builtin-ops\s*=\s*\[(.*?)\]", text, re.S)
    if not block:
        raise RuntimeError(f"no builtin-ops list in {jar}!reference.conf")
    ops = [op for op in re.findall(r'"([^"]+)"', block.group(1)) if op not in EXCLUDED_SPARK_OPS]
    lines = ["# Generated by bundler/jars.py from MLeap's reference.conf; see EXCLUDED_SPARK_OPS.",
             "ml.combust.mleap.spark.registry.builtin-ops = ["]
    lines += [f'  "{op}",' for op in ops]
    lines += ["]", ""]
    (where / "leapserve-registry.conf").write_text("\n".join(lines))


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
    """Fetch MLeap's Spark jars (and xgboost4j-spark's when asked); quick when they are in place."""
    MLEAP_SPARK.fetch(log, finish=_write_spark_registry_conf)
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
