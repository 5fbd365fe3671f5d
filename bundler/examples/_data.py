"""The Palmer penguins data the examples train on: the CSV shipped inside the palmerpenguins package."""

from __future__ import annotations

from pathlib import Path

NUMERIC = ("bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g")

# An explicit schema: measurements as doubles (the CSV writes whole numbers for two of them, which
# inferSchema would read as ints), "NA" read as null.
SCHEMA = ("species string, island string, bill_length_mm double, bill_depth_mm double, "
          "flipper_length_mm double, body_mass_g double, sex string, year int")


def penguins_csv() -> Path:
    """Path of penguins.csv inside the installed palmerpenguins package."""
    try:
        import palmerpenguins
    except ImportError:
        raise RuntimeError("the examples need the palmerpenguins package "
                           "(pip install 'leapserve[bundler]')") from None
    path = Path(palmerpenguins.__file__).resolve().parent / "data" / "penguins.csv"
    if not path.is_file():
        raise RuntimeError(f"penguins.csv not found in the palmerpenguins package (looked at {path})")
    return path


def load_penguins(spark):
    """The penguins as a DataFrame, without the rows whose measurements are missing.

    ``sex`` keeps its nulls: the classification example shows how an indexer handles them.
    """
    df = spark.read.csv(str(penguins_csv()), header=True, schema=SCHEMA, nullValue="NA")
    return df.dropna(subset=list(NUMERIC))
