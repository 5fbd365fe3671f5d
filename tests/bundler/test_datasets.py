"""bundler.datasets without Spark: where a data set is (a local path or a URI) and which format it is
read or written in (export's --sample, score's --input and --output alike)."""

from __future__ import annotations

from pathlib import Path

import pytest

from leapserve.bundler.datasets import data_format, location, output_format
from leapserve.bundler.errors import BundlerError

PARQUET_MAGIC = b"PAR1"


def test_folders(tmp_path):
    csv_parts = tmp_path / "scored.csv-folder"
    csv_parts.mkdir()
    (csv_parts / "part-00000.csv").write_text("a\n1\n")
    (csv_parts / "_SUCCESS").write_text("")  # Spark's marker files do not count
    (csv_parts / ".part-00000.csv.crc").write_bytes(b"\0")
    assert data_format(csv_parts) == "csv"
    parquet_parts = tmp_path / "rows"
    parquet_parts.mkdir()
    (parquet_parts / "part-00000.snappy.parquet").write_bytes(PARQUET_MAGIC)
    (parquet_parts / "_SUCCESS").write_text("")
    assert data_format(parquet_parts) == "parquet"
    empty = tmp_path / "empty"
    empty.mkdir()
    assert data_format(empty) == "parquet"


def test_files_by_name_then_content(tmp_path):
    named = {"rows.csv": "csv", "ROWS.CSV": "csv", "rows.parquet": "parquet", "rows.pq": "parquet"}
    for name, expected in named.items():
        path = tmp_path / name
        path.write_text("a,b\n1,2\n")  # the name decides, whatever the content
        assert data_format(path) == expected, name
    unnamed = tmp_path / "rows"
    unnamed.write_bytes(PARQUET_MAGIC + b"\0\0")
    assert data_format(unnamed) == "parquet"
    unnamed.write_text("a,b\n1,2\n")
    assert data_format(unnamed) == "csv"


def test_given_format_and_missing_path(tmp_path):
    path = tmp_path / "rows.parquet"
    path.write_bytes(PARQUET_MAGIC)
    assert data_format(path, "csv") == "csv"
    with pytest.raises(BundlerError) as err:
        data_format(tmp_path / "nothing", "csv")
    assert str(err.value) == f"{tmp_path / 'nothing'}: no such file or directory"


def test_uris_go_to_spark_as_they_are(tmp_path):
    assert location("s3a://bucket/rows") == "s3a://bucket/rows"  # pathlib would fold the //
    assert location("hdfs:///rows.csv") == "hdfs:///rows.csv"
    assert location("~/rows.csv") == Path("~/rows.csv").expanduser()
    assert location("C:/rows.csv") == Path("C:/rows.csv")  # a drive letter is no scheme
    assert data_format("s3a://bucket/rows") == "parquet"  # nothing to look at: the name decides
    assert data_format("s3a://bucket/rows.CSV/") == "csv"
    assert data_format("s3a://bucket/rows", "csv") == "csv"
    assert output_format("s3a://bucket/scored.csv") == "csv"
    assert output_format(tmp_path / "scored.csv") == "csv"
    assert output_format(tmp_path / "scored") == "parquet"
    assert output_format(tmp_path / "scored", "csv") == "csv"
