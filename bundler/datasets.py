"""Data sets as the training side's commands read and write them with Spark: parquet (a file or
Spark's folder of parts) or CSV with a header row, on the local disk (a Path) or anywhere Spark's
file systems reach (a URI such as s3a://bucket/rows or hdfs:///rows, handed to Spark as it is).

Errors name the path; the messages are meant for the user as they are.
"""

from __future__ import annotations

import re
from pathlib import Path

from .errors import BundlerError, spark_failure

FORMATS = ("parquet", "csv")

# A URI scheme (s3a:, hdfs:, file:, ...); two letters or more, so that C:\rows is a path.
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]+:")


def location(text: str) -> Path | str:
    """Where a data set given by the user is: a local Path (``~`` expanded), or a URI as it is
    (pathlib would fold its ``//``)."""
    return text if _SCHEME.match(text) else Path(text).expanduser()


def _spark_path(path: Path | str) -> str:
    return path if isinstance(path, str) else str(path.resolve())


def data_format(path: Path | str, given: str | None = None) -> str:
    """The format of the data set at ``path``: ``given`` if any, else from the name or the content.
    A local path must exist: a folder is CSV when all its parts end in .csv, else parquet; a file
    ending in .csv is CSV, in .parquet or .pq parquet, else parquet when it starts with parquet's
    magic bytes (PAR1) and CSV otherwise. A URI is CSV when it ends in .csv, else parquet (Spark
    says whether it exists when it reads it)."""
    if isinstance(path, str):
        return given or ("csv" if path.rstrip("/").lower().endswith(".csv") else "parquet")
    if not path.exists():
        raise BundlerError(f"{path}: no such file or directory")
    if given:
        return given
    if path.is_dir():
        names = [p.name.lower() for p in path.iterdir() if not p.name.startswith((".", "_"))]
        return "csv" if names and all(n.endswith(".csv") for n in names) else "parquet"
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in (".parquet", ".pq"):
        return "parquet"
    with open(path, "rb") as fh:
        return "parquet" if fh.read(4) == b"PAR1" else "csv"


def output_format(path: Path | str, given: str | None = None) -> str:
    """The format to write a data set at ``path`` in: ``given`` if any, else CSV when the name ends
    in .csv, else parquet."""
    name = path.name if isinstance(path, Path) else path.rstrip("/")
    return given or ("csv" if name.lower().endswith(".csv") else "parquet")


def read_dataset(spark, path: Path | str, data_format: str):
    """The DataFrame of a parquet or CSV data set (CSV: header row, types inferred), its files
    resolved now so that an unreadable one fails here rather than in the first job."""
    try:
        reader = spark.read
        if data_format == "csv":
            df = reader.csv(_spark_path(path), header=True, inferSchema=True)
        else:
            df = reader.parquet(_spark_path(path))
        df.schema  # noqa: B018  (resolves the files now, so a bad file fails here)
    except Exception as e:  # py4j's Py4JJavaError, pyspark's AnalysisException and friends
        detail = spark_failure(e)
        if detail is None:
            raise
        raise BundlerError(f"{path}: cannot read it as {data_format}: {detail}", java_trace=str(e)) from e
    return df


def csv_ready(df):
    """Vectors and arrays as JSON text, which CSV can hold (a vector as its dense values)."""
    from pyspark.ml.functions import vector_to_array
    from pyspark.ml.linalg import VectorUDT
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    columns = []
    for f in df.schema.fields:
        col = F.col(f"`{f.name}`")
        if isinstance(f.dataType, VectorUDT):
            col = F.to_json(vector_to_array(col))
        elif isinstance(f.dataType, T.ArrayType) and isinstance(f.dataType.elementType, VectorUDT):
            col = F.to_json(F.transform(col, lambda v: vector_to_array(v)))
        elif isinstance(f.dataType, (T.ArrayType, T.StructType, T.MapType)):
            col = F.to_json(col)
        columns.append(col.alias(f.name))
    return df.select(*columns)


def write_dataset(df, path: Path | str, data_format: str, overwrite: bool = False) -> None:
    """Write ``df`` as a parquet or CSV folder (CSV: header row, vectors and arrays as JSON text);
    an existing ``path`` is replaced only with ``overwrite``."""
    if data_format == "csv":
        df = csv_ready(df)
    writer = df.write.mode("overwrite" if overwrite else "errorifexists")
    if data_format == "csv":
        writer.csv(_spark_path(path), header=True)
    else:
        writer.parquet(_spark_path(path))
