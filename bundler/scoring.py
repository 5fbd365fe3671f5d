"""Score a Spark DataFrame with a bundle, using the very runtime the server uses.

    from leapserve import bundler
    scored = bundler.score(df, "model.zip")                 # df + the bundle's output columns
    scored = bundler.score(df, "model.zip", ["prediction"], on_error="null")

Each partition is scored by the native runtime's batch path (``Pipeline.transform_batch``) over
Arrow record batches (``DataFrame.mapInArrow``), so offline and online predictions come from the
same code. The bundle's bytes are broadcast once; each Python worker loads them once and keeps the
compiled Pipeline in a module-level cache keyed by the bundle's content hash, so later tasks (and
later micro-batches of a streaming query) reuse it.

Output columns have the types Spark's own transform gives them: vectors are Spark ML vectors
(VectorUDT, sent through Arrow as its struct ``type, size, indices, values``: Spark 3.5's
mapInArrow accepts the UDT in the output schema), doubles, strings, arrays of strings; LSH hashes
are Spark's array of one-element vectors. Rows Spark drops (handle_invalid "skip") are dropped.
Works on batch and Structured Streaming DataFrames alike.

Bad rows: with ``on_error="fail"`` (the default) the job fails with the first bad row of the
partition (``RowFailed``: field, value, row position); with ``on_error="null"`` the row is kept,
its outputs are null and ``error_col`` says why (null on good rows).

The executors' Python needs leapserve installed (the runtime is imported there), as any Python
dependency of a PySpark job.
"""

from __future__ import annotations

import functools
import hashlib
import io
import os
import re
import sys
import threading
import zipfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

import numpy as np

from .errors import BundlerError, MissingColumns

ON_ERROR = ("fail", "null")
DEFAULT_ERROR_COLUMN = "score_error"
# Ops whose output Spark writes as an array of one-element vectors (the runtime: one vector).
LSH_OPS = frozenset({"min_hash_lsh", "bucketed_random_projection_lsh"})
# A batch refusing a row is retried without it this many times before the remaining rows are
# scored one by one (on_error="null").
_RETRIES = 8
_CACHE_LIMIT = 8

_PIPELINES: dict = {}  # content hash -> loaded Pipeline, per Python process (driver or worker)
_BROADCASTS: dict = {}  # (application id, content hash) -> Broadcast of the bundle bytes (driver)
_LOCK = threading.Lock()


class RowFailed(ValueError):
    """A row the runtime refuses (on_error="fail"): where it is, which field, which value, why."""

    def __init__(self, message: str, *, field=None, value=None, partition=None, row=None):
        super().__init__(message)
        self.field = field
        self.value = value
        self.partition = partition
        self.row = row


def row_failure(err) -> str | None:
    """The RowFailed message inside a failed Spark job's error, if that is why it failed."""
    found = re.findall(r"RowFailed: ([^\n]+)", str(err))
    return found[-1].strip() if found else None


# --- the bundle: bytes, hash, load ---------------------------------------------------------

@dataclass(frozen=True)
class BundleBytes:
    """A bundle as a zip archive in memory, and the folder of the bundle inside it ("" = root)."""

    data: bytes
    inner: str
    description: str

    @functools.cached_property
    def digest(self) -> str:
        h = hashlib.sha256(self.data)
        h.update(b"\0" + self.inner.encode())
        return h.hexdigest()


def read_bundle(bundle) -> BundleBytes:
    """A bundle path (zip, directory, jar:file:/file: URI) as bytes; a directory is zipped."""
    if isinstance(bundle, BundleBytes):
        return bundle
    text = os.fspath(bundle)
    inner = ""
    if text.startswith("jar:"):
        text = text[len("jar:"):]
        if "!" in text:
            text, inner = text.split("!", 1)
            inner = inner.strip("/")
    if text.startswith("file:"):
        text = unquote(urlparse(text).path)
    path = Path(text).expanduser()
    if path.is_dir():
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            for f in sorted(path.rglob("*")):
                if f.is_file():
                    z.write(f, f.relative_to(path).as_posix())
        return BundleBytes(buf.getvalue(), inner, str(path))
    if path.is_file():
        if not zipfile.is_zipfile(path):
            raise BundlerError(f"bundle {path}: neither a bundle directory nor a zip archive")
        return BundleBytes(path.read_bytes(), inner, str(path))
    raise BundlerError(f"bundle {bundle}: no such file or directory")


def _load(data: bytes, inner: str, description: str):
    from leapserve.runtime import load_bundle
    from leapserve.runtime.container import ZipSource

    source = ZipSource(io.BytesIO(data), inner)
    source.description = description + (f"!/{inner}" if inner else "")
    return load_bundle(source)


def cached_pipeline(digest: str, fetch, inner: str, description: str):
    """The Pipeline of a bundle, loaded once per process; ``fetch()`` returns its bytes."""
    pipeline = _PIPELINES.get(digest)
    if pipeline is None:
        with _LOCK:
            pipeline = _PIPELINES.get(digest)
            if pipeline is None:
                pipeline = _load(fetch(), inner, description)
                if len(_PIPELINES) >= _CACHE_LIMIT:
                    _PIPELINES.clear()
                _PIPELINES[digest] = pipeline
    return pipeline


# --- column plans: Spark/Arrow <-> runtime ---------------------------------------------------

@functools.lru_cache(maxsize=1)  # built once per worker, not per column of every batch
def _vector_arrow_type():
    import pyarrow as pa

    # Spark declares the arrays' elements non-null; it reads nullable ones the same, which saves a cast.
    return pa.struct([pa.field("type", pa.int8(), nullable=False), pa.field("size", pa.int32()),
                      pa.field("indices", pa.list_(pa.int32())), pa.field("values", pa.list_(pa.float64()))])


def _input_kind(name: str, dtype, ftype) -> str:
    """How a DataFrame column reaches the runtime; BundlerError when it cannot be what the bundle reads."""
    from pyspark.ml.linalg import VectorUDT
    from pyspark.sql import types as T

    if isinstance(dtype, VectorUDT):
        kind = "vector"
    elif isinstance(dtype, T.DecimalType):
        kind = "decimal"
    elif isinstance(dtype, (T.NumericType, T.BooleanType)):
        kind = "number"
    elif isinstance(dtype, T.StringType):
        kind = "string"
    elif isinstance(dtype, T.ArrayType):
        kind = "list"
    else:
        kind = "other"
    wants_vector = ftype.is_vector
    if wants_vector and kind not in ("vector", "list"):
        raise BundlerError(f"column {name!r} is {dtype.simpleString()}, but the bundle reads a vector there")
    if ftype.kind == "list" and kind != "list":
        raise BundlerError(f"column {name!r} is {dtype.simpleString()}, but the bundle reads {ftype} there")
    if ftype.kind == "scalar" and kind in ("vector", "list"):
        raise BundlerError(f"column {name!r} is {dtype.simpleString()}, but the bundle reads {ftype} there")
    return kind


_SPARK_SCALARS = {"double": "DoubleType", "float": "FloatType", "int": "IntegerType", "long": "LongType",
                  "short": "ShortType", "byte": "ByteType", "boolean": "BooleanType", "string": "StringType"}


def _output_kind(name: str, ftype, op: str) -> tuple[str, object]:
    """(kind, Spark type) of an output column, as Spark's transform types it."""
    from pyspark.ml.linalg import VectorUDT
    from pyspark.sql import types as T

    if ftype.is_vector:
        if op in LSH_OPS:
            return "lsh", T.ArrayType(VectorUDT(), True)
        return "vector", VectorUDT()
    if ftype.kind == "scalar" and ftype.base in _SPARK_SCALARS:
        return ftype.base, getattr(T, _SPARK_SCALARS[ftype.base])()
    if ftype.kind == "list" and ftype.base in _SPARK_SCALARS:
        return f"list:{ftype.base}", T.ArrayType(getattr(T, _SPARK_SCALARS[ftype.base])(), True)
    raise BundlerError(f"output column {name!r} is {ftype}, which has no Spark column type here")


@dataclass(frozen=True)
class ScorePlan:
    """What the workers need, decided on the driver (pickled into each task; small)."""

    digest: str
    bundle: object  # Broadcast of the bundle bytes
    inner: str
    description: str
    inputs: tuple  # (column, position in the batch, kind)
    outputs: tuple  # (column, kind)
    names: tuple  # every column of the result, in order
    on_error: str
    error_col: str | None
    counter: object = None  # Accumulator of COUNTS, or None

    @property
    def output_names(self) -> list[str]:
        return [name for name, _ in self.outputs]

    @property
    def positions(self) -> dict:
        """Input column -> its position in the record batches."""
        return {name: i for name, i, _ in self.inputs}


# --- Arrow -> runtime columns ----------------------------------------------------------------

def arrow_to_column(arr, kind: str):
    """One Arrow column as a runtime batch column (numpy array, SparseBatch or list of row values)."""
    import pyarrow as pa

    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if kind == "number":
        if arr.null_count == 0:
            return arr.to_numpy(zero_copy_only=False)
        return np.array(arr.to_pylist(), dtype=object)
    if kind == "decimal":
        return arrow_to_column(arr.cast(pa.float64()), "number")
    if kind == "string":
        if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type):
            return arr.to_numpy(zero_copy_only=False)
        return arr.to_pylist()
    if kind == "vector":
        return _vectors_from_arrow(arr)
    return arr.to_pylist()


def _vectors_from_arrow(arr):
    """VectorUDT structs -> a 2-D array (all dense, one size), a SparseBatch (all sparse, one size),
    or row values (lists, SparseVectors, None) for the runtime to sort out."""
    import pyarrow.compute as pc

    from leapserve.runtime.vectors import SparseBatch, SparseVector

    n = len(arr)
    if n and arr.null_count == 0:
        kind, size, indices, values = arr.flatten()
        kinds = kind.to_numpy(zero_copy_only=False)
        lengths = pc.list_value_length(values).to_numpy(zero_copy_only=False)
        if (kinds == 1).all() and (lengths == lengths[0]).all():
            return values.flatten().to_numpy(zero_copy_only=False).astype(np.float64).reshape(n, int(lengths[0]))
        if (kinds == 0).all() and size.null_count == 0:
            sizes = size.to_numpy(zero_copy_only=False)
            if (sizes == sizes[0]).all():
                indptr = np.zeros(n + 1, dtype=np.int64)
                np.cumsum(lengths, out=indptr[1:])
                return SparseBatch(int(sizes[0]), indptr,
                                   indices.flatten().to_numpy(zero_copy_only=False).astype(np.int64),
                                   values.flatten().to_numpy(zero_copy_only=False).astype(np.float64))
    rows = []
    for v in arr.to_pylist():
        if v is None:
            rows.append(None)
        elif v["type"] == 1:
            rows.append([float(x) for x in v["values"]])
        else:
            rows.append(SparseVector(v["size"], v["indices"], v["values"]))
    return rows


# --- runtime columns -> Arrow ------------------------------------------------------------------

def _check_offsets(total: int, what: str) -> None:
    """Spark reads Arrow lists with 32-bit offsets: a batch may hold fewer than 2**31 values."""
    if total >= 2 ** 31:
        raise BundlerError(f"{what}: {total} values in one Arrow batch, more than Spark's lists can hold; "
                           f"lower spark.sql.execution.arrow.maxRecordsPerBatch")


def _dense_struct(m: np.ndarray):
    import pyarrow as pa

    n, d = m.shape
    _check_offsets(n * d, "dense vectors")
    offsets = np.arange(n + 1, dtype=np.int32) * np.int32(d)
    flat = np.ascontiguousarray(m, dtype=np.float64).reshape(-1)
    values = pa.ListArray.from_arrays(pa.array(offsets), pa.array(flat))
    t = _vector_arrow_type()
    return pa.StructArray.from_arrays(
        [pa.array(np.ones(n, dtype=np.int8)), pa.nulls(n, pa.int32()), pa.nulls(n, t.field("indices").type), values],
        fields=list(t))


def _sparse_struct(b):
    import pyarrow as pa

    n = len(b)
    t = _vector_arrow_type()
    _check_offsets(int(b.indptr[-1]), "sparse vectors")
    indptr = pa.array(b.indptr.astype(np.int32))
    return pa.StructArray.from_arrays(
        [pa.array(np.zeros(n, dtype=np.int8)), pa.array(np.full(n, b.size, dtype=np.int32)),
         pa.ListArray.from_arrays(indptr, pa.array(b.indices.astype(np.int32))),
         pa.ListArray.from_arrays(indptr, pa.array(b.values.astype(np.float64)))],
        fields=list(t))


def _row_structs(rows):
    """Row vectors (ndarray, list, SparseVector or None) -> VectorUDT structs, each kept as it is."""
    import pyarrow as pa

    from leapserve.runtime.vectors import SparseVector

    out = []
    for v in rows:
        if v is None:
            out.append(None)
        elif isinstance(v, SparseVector):
            out.append({"type": 0, "size": v.size, "indices": list(v.indices), "values": list(v.values)})
        else:
            out.append({"type": 1, "size": None, "indices": None,
                        "values": v.tolist() if isinstance(v, np.ndarray) else list(v)})
    return pa.array(out, type=_vector_arrow_type())


def vectors_to_arrow(col):
    from leapserve.runtime.vectors import SparseBatch

    if isinstance(col, SparseBatch):
        return _sparse_struct(col)
    if isinstance(col, np.ndarray) and col.ndim == 2 and col.dtype.kind in "fiub":
        return _dense_struct(col)
    return _row_structs(col)


def _lsh_to_arrow(col):
    """Hash vectors (k values a row) -> Spark's array of k one-element dense vectors."""
    import pyarrow as pa

    from leapserve.runtime.vectors import SparseBatch

    if isinstance(col, SparseBatch):
        col = col.toarray()
    if isinstance(col, np.ndarray) and col.ndim == 2 and col.dtype.kind in "fiub":
        n, k = col.shape
        elements = _dense_struct(col.reshape(n * k, 1))
        return pa.ListArray.from_arrays(pa.array(np.arange(n + 1, dtype=np.int32) * np.int32(k)), elements)
    rows = []
    for v in col:
        if v is None:
            rows.append(None)
        else:
            dense = v.toarray() if hasattr(v, "toarray") else np.asarray(v, dtype=np.float64)
            rows.append([{"type": 1, "size": None, "indices": None, "values": [float(x)]} for x in dense])
    return pa.array(rows, type=pa.list_(_vector_arrow_type()))


_ARROW_SCALARS = {"double": "float64", "float": "float32", "int": "int32", "long": "int64", "short": "int16",
                  "byte": "int8", "boolean": "bool_", "string": "string"}


def column_to_arrow(kind: str, col):
    """A runtime output column -> the Arrow array Spark reads for its column type."""
    import pyarrow as pa

    if kind == "vector":
        return vectors_to_arrow(col)
    if kind == "lsh":
        return _lsh_to_arrow(col)
    if kind.startswith("list:"):
        t = pa.list_(getattr(pa, _ARROW_SCALARS[kind[5:]])())
        try:
            return pa.array(col, type=t)  # lists (and None) as they are
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            return pa.array([None if v is None else list(v) for v in col], type=t)
    t = getattr(pa, _ARROW_SCALARS[kind])()
    if isinstance(col, np.ndarray) and col.dtype != object:
        return pa.array(col, type=t)  # NaN stays NaN (not null)
    try:
        return pa.array(col, type=t)  # object arrays of str, float or None
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pa.array([v.item() if isinstance(v, np.generic) else v for v in col], type=t)


# --- scoring one partition (runs in the Python workers) ---------------------------------------

# glibc serves blocks above its mmap threshold (128 KiB at first) with a fresh mmap and unmaps them
# when freed, so every such numpy array of a batch page-faults on each page as it is first written.
# Raised thresholds keep freed blocks in the heap for the next batch: the batch path of the
# penguin examples ran 1.3 to 1.6 times faster. A worker then keeps up to _TRIM_AT of free heap.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_MMAP_AT, _TRIM_AT = 32 << 20, 64 << 20
_allocator_tuned: bool | None = None  # None: not tried yet in this process


def tune_allocator() -> bool:
    """Raise glibc's mmap and trim thresholds for this process (tried once; later calls give the
    first answer); False where there is no glibc mallopt (other C libraries, other systems)."""
    global _allocator_tuned
    if _allocator_tuned is None:
        _allocator_tuned = _raise_thresholds()
    return _allocator_tuned


def _raise_thresholds() -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        mallopt = ctypes.CDLL(None).mallopt
        return bool(mallopt(_M_MMAP_THRESHOLD, _MMAP_AT)) and bool(mallopt(_M_TRIM_THRESHOLD, _TRIM_AT))
    except (OSError, AttributeError):
        return False


def _take(col, rows: np.ndarray):
    from leapserve.runtime.vectors import SparseBatch

    if isinstance(col, SparseBatch):
        return col.take(rows)
    if isinstance(col, np.ndarray):
        return col[rows]
    return [col[int(r)] for r in rows]


def _row_value(col, r: int):
    from leapserve.runtime.vectors import SparseBatch

    if isinstance(col, SparseBatch):
        return col.row(r)
    v = col[r]
    if isinstance(col, np.ndarray) and col.ndim == 2:
        return v.tolist()
    if isinstance(v, np.generic):
        return v.item()
    return v


def _short(value) -> str:
    if value is None:
        return "null"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _reason(err, batch, row: int, positions: dict) -> tuple[str, object]:
    """Why a row failed, naming the field and (for an input column: ``positions`` maps them to
    their place in the batch) its value; and that value."""
    field = getattr(err, "field", None)
    value = None
    parts = []
    if field is not None:
        if field in positions:
            value = batch.column(positions[field])[row].as_py()
            parts.append(f"field {field!r} = {_short(value)}")
        else:
            from leapserve.runtime.errors import naming

            parts.append(naming(err))  # "fields 'a', 'b'" when several are at fault
    node = getattr(err, "node", None)
    if node is not None:
        parts.append(f"stage {node!r} ({getattr(err, 'op', '?')})")
    detail = getattr(err, "detail", None) or str(err)
    return (", ".join(parts) + ": " if parts else "") + detail, value


def _first_failure(plan, pipeline, batch, columns, err, partition: int, offset: int) -> RowFailed:
    """The lowest row of the batch the runtime refuses (the batch path stops at the first bad row
    of the first stage that meets one; the row path over the rows before it finds the earliest)."""
    from leapserve.runtime import RowSkipped, ScoringError

    names = [name for name, _, _ in plan.inputs]
    last = err.row if err.row is not None else batch.num_rows - 1
    for r in range(last + 1):
        record = {name: _row_value(columns[name], r) for name in names}
        try:
            pipeline.transform(record, plan.output_names)
        except RowSkipped:
            continue
        except ScoringError as e:
            err, row = e, r
            break
    else:
        row = err.row
    if row is None:
        text, _ = _reason(err, batch, 0, {})
        return RowFailed(f"partition {partition}: {text}", field=err.field, partition=partition)
    text, value = _reason(err, batch, row, plan.positions)
    position = offset + row
    return RowFailed(f"row {position} of partition {partition}: {text}", field=err.field, value=value,
                     partition=partition, row=position)


def _score_tolerant(plan, pipeline, batch, columns, err):
    """on_error="null": score what can be scored; (keep mask, output arrays, error column)."""
    import pyarrow as pa

    from leapserve.runtime import RowSkipped, ScoringError
    from leapserve.runtime.plan import column_from_rows

    n = batch.num_rows
    inputs = plan.positions
    bad: dict[int, str] = {}
    rows = np.arange(n)
    result = None
    for _ in range(_RETRIES):
        if err.row is None:
            break
        r = int(rows[err.row])
        bad[r] = _reason(err, batch, r, inputs)[0]
        rows = np.delete(rows, err.row)
        if not len(rows):
            err = None
            break
        try:
            result = pipeline.transform_batch({k: _take(v, rows) for k, v in columns.items()}, plan.output_names)
            err = None
            break
        except ScoringError as e:
            err = e
    if err is not None:  # still refused: one row at a time for the rest
        kept, answers, skipped = [], [], []
        for r in rows:
            r = int(r)
            record = {name: _row_value(columns[name], r) for name in columns}
            try:
                answers.append(pipeline.transform(record, plan.output_names))
                kept.append(r)
            except RowSkipped:
                skipped.append(r)
            except ScoringError as e:
                bad[r] = _reason(e, batch, r, inputs)[0]
        types_ = pipeline.outputs
        result = {name: column_from_rows(types_[name], [a[name] for a in answers])
                  for name in plan.output_names} if answers else None
        scored = np.asarray(kept, dtype=np.int64)
        dropped = np.asarray(skipped, dtype=np.int64)
    elif result is not None:
        scored = rows[~result.skipped]
        dropped = rows[result.skipped]
        if result.skipped.any():
            keep_rows = np.nonzero(~result.skipped)[0]
            result = {name: _take(result[name], keep_rows) for name in plan.output_names}
    else:
        scored = dropped = np.zeros(0, dtype=np.int64)
    keep = np.ones(n, dtype=bool)
    keep[dropped] = False
    position = np.full(n, -1, dtype=np.int64)
    position[scored] = np.arange(len(scored))
    where = pa.array(position, mask=position < 0)
    arrays = []
    for name, kind in plan.outputs:
        if len(scored):
            arrays.append(column_to_arrow(kind, result[name]).take(where))
        else:
            arrays.append(pa.nulls(n, _arrow_type_of(kind)))
    errors = pa.array([bad.get(r) for r in range(n)], type=pa.string())
    return keep, arrays, errors


def _arrow_type_of(kind: str):
    import pyarrow as pa

    if kind == "vector":
        return _vector_arrow_type()
    if kind == "lsh":
        return pa.list_(_vector_arrow_type())
    if kind.startswith("list:"):
        return pa.list_(getattr(pa, _ARROW_SCALARS[kind[5:]])())
    return getattr(pa, _ARROW_SCALARS[kind])()


def score_batch(plan: ScorePlan, pipeline, batch, partition: int = 0, offset: int = 0):
    """Score one Arrow RecordBatch: its columns, the outputs (and the error column), without the
    rows Spark would drop. Returns (RecordBatch, rows failed)."""
    import pyarrow as pa

    from leapserve.runtime import ScoringError

    n = batch.num_rows
    columns = {name: arrow_to_column(batch.column(i), kind) for name, i, kind in plan.inputs}
    errors = None
    try:
        result = pipeline.transform_batch(columns, plan.output_names)
    except ScoringError as e:
        if plan.on_error == "fail":
            raise _first_failure(plan, pipeline, batch, columns, e, partition, offset) from None
        keep, arrays, errors = _score_tolerant(plan, pipeline, batch, columns, e)
    else:
        keep = None if not result.skipped.any() else ~result.skipped
        arrays = [column_to_arrow(kind, result[name]) for name, kind in plan.outputs]
    arrays = list(batch.columns) + arrays
    if plan.error_col is not None:
        arrays.append(errors if errors is not None else pa.nulls(n, pa.string()))
    out = pa.RecordBatch.from_arrays(arrays, names=list(plan.names))
    failed = 0 if errors is None else n - errors.null_count
    if keep is not None and not keep.all():
        out = out.filter(pa.array(keep))
    return out, failed


def _score_partition(plan: ScorePlan, batches):
    """mapInArrow's function: each record batch of the partition, scored."""
    from pyspark import TaskContext

    loads = []

    def fetch():
        loads.append(1)
        return plan.bundle.value

    tune_allocator()
    pipeline = cached_pipeline(plan.digest, fetch, plan.inner, plan.description)
    if plan.counter is not None and loads:
        plan.counter.add((0, 0, 0, 1))
    ctx = TaskContext.get()
    partition = ctx.partitionId() if ctx is not None else 0
    offset = 0
    for batch in batches:
        n = batch.num_rows
        if n == 0:
            continue
        out, failed = score_batch(plan, pipeline, batch, partition, offset)
        offset += n
        if plan.counter is not None:
            plan.counter.add((n, out.num_rows, failed, 0))
        if out.num_rows:
            yield out


# --- the driver side -----------------------------------------------------------------------------

# What a ``counter`` accumulator adds up, in this order.
COUNTS = ("rows read", "rows written", "rows failed", "bundle loads")


class _CountsParam:
    """AccumulatorParam (duck-typed) of tuples of len(COUNTS) integers."""

    def zero(self, value):
        return (0,) * len(COUNTS)

    def addInPlace(self, a, b):
        return tuple(x + y for x, y in zip(a, b))


def counts_accumulator(spark_context):
    """An accumulator to pass as ``counter``: (rows read, rows written, rows failed, bundle loads)
    where a bundle load is a Python worker loading the bundle (the others reuse theirs)."""
    return spark_context.accumulator((0,) * len(COUNTS), _CountsParam())


def _broadcast(spark_context, bundle: BundleBytes):
    key = (spark_context.applicationId, bundle.digest)
    with _LOCK:
        bc = _BROADCASTS.get(key)
        if bc is None:
            bc = spark_context.broadcast(bundle.data)
            _BROADCASTS[key] = bc
    return bc


def score(df, bundle, outputs=None, *, on_error: str = "fail", error_col: str | None = None, counter=None):
    """``df`` with the bundle's output columns appended (all, or ``outputs``), scored by the leapserve
    runtime in each partition; rows Spark's transform would drop are dropped.

    ``bundle``: a zip file, a bundle directory, or a jar:file:/file: URI. ``on_error``: "fail"
    (the job fails on the first bad row, with RowFailed naming field, value and row position) or
    "null" (bad rows get null outputs and a message in ``error_col``, "score_error" by default).
    ``counter``: an accumulator from ``counts_accumulator`` to count rows. Works on streaming
    DataFrames too. Raises BundlerError for what can be checked before running (missing input
    columns, unknown outputs, clashing column names, unsupported types).
    """
    from pyspark.sql import types as T

    from leapserve.runtime import BundleError, ScoringError

    if on_error not in ON_ERROR:
        raise ValueError(f"on_error must be one of {ON_ERROR}, not {on_error!r}")
    if on_error == "null" and error_col is None:
        error_col = DEFAULT_ERROR_COLUMN
    data = read_bundle(bundle)
    try:
        pipeline = cached_pipeline(data.digest, lambda: data.data, data.inner, data.description)
        wanted = list(pipeline.outputs) if outputs is None else list(dict.fromkeys(outputs))
        required = pipeline.required_inputs(wanted)
    except (BundleError, ScoringError) as e:
        raise BundlerError(f"bundle {data.description}: {e}") from None
    schema = df.schema
    present = {f.name: f for f in schema.fields}
    missing = {}
    for name in required:
        if name not in present:
            missing[name] = next((st.name for st in pipeline.stages
                                  if any(col == name for _, col, _ in st.inputs)), "?")
    if missing:
        raise MissingColumns(missing)
    clash = [c for c in wanted + ([error_col] if error_col else []) if c in present]
    if clash:
        raise BundlerError(f"the DataFrame already has column(s) {clash} that scoring would add "
                           f"(Spark's transform refuses this too); drop or rename them first")
    positions = {f.name: i for i, f in enumerate(schema.fields)}
    inputs = tuple((name, positions[name], _input_kind(name, present[name].dataType, ftype))
                   for name, ftype in required.items())
    op_of = {col: st.op for st in pipeline.stages for _, col, _ in st.outputs}
    out_cols = []
    out_fields = []
    for name in wanted:
        kind, spark_type = _output_kind(name, pipeline.outputs[name], op_of.get(name, ""))
        out_cols.append((name, kind))
        out_fields.append(T.StructField(name, spark_type, True))
    if error_col is not None:
        out_fields.append(T.StructField(error_col, T.StringType(), True))
    result_schema = T.StructType(list(schema.fields) + out_fields)
    spark_context = df.sparkSession.sparkContext
    plan = ScorePlan(
        digest=data.digest, bundle=_broadcast(spark_context, data), inner=data.inner,
        description=data.description, inputs=inputs, outputs=tuple(out_cols),
        names=tuple(f.name for f in result_schema.fields), on_error=on_error, error_col=error_col,
        counter=counter)
    return df.mapInArrow(functools.partial(_score_partition, plan), result_schema)

