"""The native Bundle.ML runtime: load MLeap bundles and score them like Spark, without a JVM.

    from leapserve.runtime import load_bundle
    model = load_bundle("model.zip")      # path, directory or jar:file:/file: URI
    model.inputs                          # required input fields: name -> FieldType
    model.outputs                         # fields the pipeline adds: name -> FieldType
    model.transform(record)               # one record -> dict of the added fields
    model.transform_batch(columns)        # columns -> BatchResult (field -> numpy column)

``leapserve`` re-exports these names (its _RUNTIME_NAMES, imported on first use).
"""

from .errors import BundleError, InvalidInput, MissingInput, RowSkipped, ScoringError, UnsupportedOpError
from .plan import BatchResult, Pipeline, Stage, load_bundle
from .registry import supported_ops
from .types import FieldType
from .vectors import DenseVector, SparseBatch, SparseVector

__all__ = [
    "load_bundle", "supported_ops", "Pipeline", "Stage", "BatchResult", "FieldType",
    "DenseVector", "SparseVector", "SparseBatch",
    "BundleError", "ScoringError", "InvalidInput", "MissingInput", "RowSkipped", "UnsupportedOpError",
]
