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
import struct
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


# --- MLeap's binary LeapFrame (ml.combust.mleap.binary): doubles travel as their bits ------------
# A frame is the schema's JSON (length-prefixed), the row count, then each row's values in field
# order, big-endian as java.io.DataOutputStream writes them; a nullable field's value is preceded
# by a boolean saying whether it is there. Scalars only (what the tests send this way).

_BINARY_SCALARS = {"double": ">d", "float": ">f", "long": ">q", "integer": ">i", "short": ">h", "byte": ">b",
                   "boolean": ">?"}


def _scalar_type(field_type) -> tuple[str, bool]:
    """(base, nullable) of a LeapFrame scalar type: "double" is nullable, {"type": "basic", ...} says."""
    if isinstance(field_type, str):
        return field_type, True
    if isinstance(field_type, dict) and field_type.get("type") == "basic":
        return field_type["base"], field_type.get("isNullable", True)
    raise HarnessError(f"the binary frame here carries scalars only, not {field_type!r}")


def binary_frame(fields: list[tuple[str, object]], rows: list[list]) -> bytes:
    """An MLeap binary LeapFrame of scalar fields, (name, LeapFrame type) each (e.g. "double", or
    {"type": "basic", "base": "double", "isNullable": False}); None is a null."""
    schema = json.dumps({"fields": [{"name": n, "type": t} for n, t in fields]}).encode()
    out = [struct.pack(">i", len(schema)), schema, struct.pack(">i", len(rows))]
    types = [_scalar_type(t) for _, t in fields]
    for row in rows:
        for (base, nullable), v in zip(types, row):
            if nullable:
                out.append(struct.pack(">?", v is not None))
                if v is None:
                    continue
            elif v is None:
                raise HarnessError("a null in a non-nullable field")
            if base == "string":
                data = v.encode("utf-8")
                out += [struct.pack(">i", len(data)), data]
            else:
                out.append(struct.pack(_BINARY_SCALARS[base], v))
    return b"".join(out)


def read_binary_frame(data: bytes) -> dict:
    """An MLeap binary LeapFrame of scalar fields as {"schema": ..., "rows": [[...], ...]} (the
    shape of a JSON LeapFrame; frame_column reads it), doubles bit for bit."""
    (length,) = struct.unpack_from(">i", data, 0)
    schema = json.loads(data[4:4 + length])
    at = 4 + length
    (count,) = struct.unpack_from(">i", data, at)
    at += 4
    types = [_scalar_type(f["type"]) for f in schema["fields"]]
    rows = []
    for _ in range(count):
        row = []
        for base, nullable in types:
            if nullable:
                present = data[at] != 0
                at += 1
                if not present:
                    row.append(None)
                    continue
            if base == "string":
                (n,) = struct.unpack_from(">i", data, at)
                row.append(data[at + 4:at + 4 + n].decode("utf-8"))
                at += 4 + n
            else:
                fmt = _BINARY_SCALARS[base]
                (v,) = struct.unpack_from(fmt, data, at)
                row.append(v)
                at += struct.calcsize(fmt)
        rows.append(row)
    if at != len(data):
        raise HarnessError(f"binary frame: {len(data) - at} bytes left over")
    return {"schema": schema, "rows": rows}


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

    def score_binary(self, bundle, fields: list[tuple[str, object]], rows: list[list]) -> dict:
        """Transform a frame of scalars with MLeap's runtime through MLeap's binary frame format
        (binary_frame), so that NaN, the infinities and -0.0 reach it and come back; returns the
        result frame as read_binary_frame gives it."""
        src = Path(tempfile.mkstemp(suffix=".bin", dir=self._tmp.name)[1])
        src.write_bytes(binary_frame(fields, rows))
        dst = src.with_suffix(".out.bin")
        self._call("score_binary", Path(bundle).resolve(), src, dst)
        return read_binary_frame(dst.read_bytes())

    def java_math(self, function: str, values: list[float]) -> list[float]:
        """java.lang.Math's floor, ceil or round ((double) Math.round) of each value, bit for bit."""
        bits = [format(struct.unpack(">Q", struct.pack(">d", v))[0], "x") for v in values]
        answer = self._call("java_math", function, *bits)
        return [struct.unpack(">d", struct.pack(">Q", int(b, 16)))[0] for b in answer]

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

