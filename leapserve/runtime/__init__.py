"""The native Bundle.ML runtime: load MLeap bundles and score them like Spark, without a JVM.

    from leapserve.runtime import load_bundle
    model = load_bundle("model.zip")      # path, directory or jar:file:/file: URI
    model.inputs                          # required input fields: name -> FieldType
    model.outputs                         # fields the pipeline adds: name -> FieldType
    model.transform(record)               # one record -> dict of the added fields
    model.transform_batch(columns)        # columns -> BatchResult (field -> numpy column)
"""

from .errors import (  # noqa: F401
    BundleError,
    InvalidInput,
    MissingInput,
    RowSkipped,
    ScoringError,
    UnsupportedOpError,
)
from .plan import BatchResult, Pipeline, Stage, load_bundle  # noqa: F401
from .registry import supported_ops  # noqa: F401
from .types import FieldType  # noqa: F401
from .vectors import DenseVector, SparseBatch, SparseVector  # noqa: F401
