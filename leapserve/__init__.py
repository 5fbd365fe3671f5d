"""leapserve: Spark ML pipelines exported as MLeap bundles, scored without a JVM.

    import leapserve
    model = leapserve.load_bundle("model.zip")    # path, directory or jar:file:/file: URI
    model.transform(record)                       # one record -> dict of the added fields
    model.transform_batch(columns)                # columns -> BatchResult

One import package: the runtime (leapserve.runtime, numpy only), the gRPC server
(leapserve.server), the training side (leapserve.bundler: export_bundle, score, spark_session;
needs the `bundler` extra), the command line (leapserve.cli) and the code generated from protos/
(leapserve.v1, leapserve.oip, leapserve.bundleml).
"""

# The runtime's names, imported on first use: `import leapserve` stays cheap for the CLI's
# client commands (health, predict), which never load a bundle.
_RUNTIME_NAMES = (
    "load_bundle", "supported_ops", "Pipeline", "Stage", "BatchResult", "FieldType",
    "DenseVector", "SparseVector", "SparseBatch",
    "BundleError", "ScoringError", "InvalidInput", "MissingInput", "RowSkipped", "UnsupportedOpError",
)

__all__ = [*_RUNTIME_NAMES, "__version__"]


def __getattr__(name: str):
    if name == "__version__":
        from importlib import metadata

        return metadata.version("leapserve")
    if name in _RUNTIME_NAMES:
        from . import runtime

        value = getattr(runtime, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'leapserve' has no attribute {name!r}")


def __dir__():
    return sorted({*globals(), *__all__})
