"""leapserve's training side: a Spark session with MLeap's jars, bundle export and verification, and
batch scoring (score: a Spark DataFrame scored with a bundle by the leapserve runtime in Spark's
executors).

Importing this package does not start or import Spark; the functions below do, when called.
"""

from .errors import (
    BundlerError,
    JarsMissing,
    JavaNotFound,
    MissingColumns,
    NotAPipelineModel,
    OutputExists,
    PackagesMissing,
    SampleNotTransformable,
    StageNotSerializable,
    VerificationFailed,
)

__all__ = [
    "spark_session", "export_bundle", "score",
    "BundlerError", "JarsMissing", "JavaNotFound", "MissingColumns", "NotAPipelineModel", "OutputExists",
    "PackagesMissing", "SampleNotTransformable", "StageNotSerializable", "VerificationFailed",
]


def spark_session():
    """The shared local SparkSession with MLeap's jars (see leapserve.bundler.session)."""
    from .session import spark_session as _session

    return _session()


def export_bundle(model, dataset, path, format="json", **kwargs):
    """Export a fitted PipelineModel (or transformer) with MLeap's serializer (see leapserve.bundler.export)."""
    from .export import export_bundle as _export

    return _export(model, dataset, path, format=format, **kwargs)


def score(df, bundle, outputs=None, **kwargs):
    """A Spark DataFrame with the bundle's outputs appended, scored by the leapserve runtime in each
    partition (see leapserve.bundler.scoring)."""
    from .scoring import score as _score

    return _score(df, bundle, outputs, **kwargs)
