"""MLeap's own JVM runtime, driven through the harness in MleapHarness.java beside this file.

Tests use it as the official Bundle.ML reader (does MLeap itself score our exported bundles the
way Spark does?); bench/ uses it as the JVM baseline. Frames travel as MLeap JSON LeapFrames.
Not installed with leapserve: ``python -m tools.mleap_jvm fetch`` (``make jars`` does) fetches
MLeap's runtime jars and compiles the harness into leapserve's cache.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from leapserve.bundler import jars
from leapserve.bundler.errors import JarsMissing

HERE = Path(__file__).resolve().parent
HARNESS_SOURCE = HERE / "MleapHarness.java"
MLEAP_RUNTIME_VERSION = "0.20.0"
MLEAP_RUNTIME = jars.JarSet("mleap-runtime", HERE / "mleap-runtime.pom.xml",
                            "Fetch them with `make jars` (or `python -m tools.mleap_jvm fetch`).")

# Spark SQL type name -> MLeap LeapFrame JSON type (section 3.2 of the Bundle.ML reference).
_SCALARS = {"string": "string", "double": "double", "float": "float", "int": "integer", "bigint": "long",
            "smallint": "short", "tinyint": "byte", "boolean": "boolean"}
_LIST_BASES = {"string": "string", "double": "double", "float": "float", "int": "int", "bigint": "long",
               "boolean": "boolean"}


class HarnessError(RuntimeError):
    pass


def leapframe_type(spark_type) -> object:
    """MLeap JSON type of a Spark column type."""
    name = spark_type.simpleString()
    if name in _SCALARS:
        return _SCALARS[name]
    if name == "vector":
        return {"type": "tensor", "base": "double"}
    if name.startswith("array<") and name[6:-1] in _LIST_BASES:
        return {"type": "list", "base": _LIST_BASES[name[6:-1]]}
    raise HarnessError(f"no LeapFrame type for Spark type {name}")


def leapframe_value(v):
    from pyspark.ml.linalg import DenseVector, SparseVector

    if isinstance(v, DenseVector):
        return {"values": [float(x) for x in v.toArray()], "dimensions": [len(v)]}
    if isinstance(v, SparseVector):
        return {"indices": [[int(i)] for i in v.indices], "values": [float(x) for x in v.values],
                "dimensions": [int(v.size)]}
    if isinstance(v, float) and (math.isnan(v) or math.isinf(v)):
        return None  # what MLeap's own JSON writer does with non-finite doubles
    return v


def leapframe(df, columns=None) -> dict:
    """A Spark DataFrame (collected; small) as an MLeap JSON LeapFrame."""
    fields = [f for f in df.schema.fields if columns is None or f.name in columns]
    rows = df.select([f.name for f in fields]).collect()
    return {
        "schema": {"fields": [{"name": f.name, "type": leapframe_type(f.dataType)} for f in fields]},
        "rows": [[leapframe_value(v) for v in row] for row in rows],
    }


def frame_column(frame: dict, name: str) -> list:
    """The values of one column of a LeapFrame answer, vectors as dense lists."""
    names = [f["name"] for f in frame["schema"]["fields"]]
    i = names.index(name)
    out = []
    for row in frame["rows"]:
        v = row[i]
        if isinstance(v, dict) and "values" in v:
            size = v["dimensions"][0] if v.get("dimensions") else len(v["values"])
            if "indices" in v:
                dense = [0.0] * size
                for idx, x in zip(v["indices"], v["values"]):
                    dense[idx[0]] = x
                v = dense
            else:
                v = list(v["values"])
        out.append(v)
    return out


class MleapJvm:
    """One long-lived harness process; thread-safe, one command at a time."""

    def __init__(self):
        self._proc = subprocess.Popen(
            harness_command(), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, text=True, encoding="utf-8",
        )
        self._lock = threading.Lock()
        self._tmp = tempfile.TemporaryDirectory(prefix="leapserve-mleap-")

    def _call(self, *parts) -> list[str]:
        with self._lock:
            if self._proc.poll() is not None:
                raise HarnessError(f"the MLeap harness exited with code {self._proc.returncode}")
            self._proc.stdin.write("\t".join(str(p) for p in parts) + "\n")
            self._proc.stdin.flush()
            line = self._proc.stdout.readline()
        if not line:
            raise HarnessError("the MLeap harness closed its output")
        fields = line.rstrip("\n").split("\t")
        if fields[0] != "ok":
            raise HarnessError(fields[1] if len(fields) > 1 else line)
        return fields[1:]

    def _write_frame(self, frame: dict) -> Path:
        path = Path(tempfile.mkstemp(suffix=".json", dir=self._tmp.name)[1])
        path.write_text(json.dumps(frame))
        return path

    def score(self, bundle, frame: dict) -> dict:
        """Transform a LeapFrame with MLeap's runtime; returns the result frame."""
        src = self._write_frame(frame)
        dst = src.with_suffix(".out.json")
        self._call("score", Path(bundle).resolve(), src, dst)
        return json.loads(dst.read_text())

    def bench(self, bundle, frame: dict, seconds: float = 3.0) -> tuple[float, float]:
        """Per-record seconds of MLeap's RowTransformer and of Transformer.transform on one row."""
        src = self._write_frame(frame)
        row_ns, frame_ns = self._call("bench", Path(bundle).resolve(), src, seconds)
        return int(row_ns) * 1e-9, int(frame_ns) * 1e-9

    def batch(self, bundle, frame: dict, repeats: int = 3) -> float:
        """Seconds for Transformer.transform of the whole frame (best of repeats)."""
        src = self._write_frame(frame)
        (ns,) = self._call("batch", Path(bundle).resolve(), src, repeats)
        return int(ns) * 1e-9

    def close(self) -> None:
        if self._proc.poll() is None:
            self._proc.stdin.close()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
        self._tmp.cleanup()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# --- building the harness ----------------------------------------------------------------------

def harness_dir() -> Path:
    """Compiled MleapHarness classes, keyed by the harness source and the runtime pom."""
    return jars.cache_dir() / "harness" / jars.digest(HARNESS_SOURCE, MLEAP_RUNTIME.pom)


def harness_command() -> list[str]:
    """The java command line that runs the MLeap JVM harness."""
    where = harness_dir()
    if not jars.is_complete(where):
        raise JarsMissing("mleap-runtime harness", where, MLEAP_RUNTIME.fetch_hint)
    cp = os.pathsep.join([str(where)] + MLEAP_RUNTIME.classpath())
    return [jars.java_executable(), "-Xss16m", "-cp", cp, "MleapHarness"]


def _compile_harness(log) -> None:
    jars.compile_java([HARNESS_SOURCE], MLEAP_RUNTIME.classpath(), harness_dir(), log, "the MLeap harness")


def fetch(log=lambda msg: print(msg, file=sys.stderr)) -> None:
    """Fetch MLeap's runtime jars and compile the harness; quick when both are in place."""
    MLEAP_RUNTIME.fetch(log)
    _compile_harness(log)

