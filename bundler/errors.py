"""Errors a user of the training side can hit, each with one clear message, and the one-line causes
of the exceptions Spark itself raises."""


class BundlerError(Exception):
    """Base class: the message is meant for the user as is (no Java stack trace); an error raised
    from the JVM keeps the Java stack trace on ``java_trace``."""

    def __init__(self, *args, java_trace: str | None = None):
        super().__init__(*args)
        self.java_trace = java_trace


class JavaNotFound(BundlerError):
    pass


class PackagesMissing(BundlerError, ImportError):
    """Python packages of the training side are not installed: a serving-only install. Also an
    ImportError, which is what code guarding an optional dependency catches."""

    def __init__(self, missing: list[str]):
        self.missing = list(missing)
        *first, last = self.missing
        names = f"{', '.join(first)} and {last} are" if first else f"{last} is"
        super().__init__(f"{names} not installed: the training side needs `pip install 'leapserve[bundler]'`")
        self.name = self.missing[0]


class JarsMissing(BundlerError):
    """The MLeap jars have not been fetched yet."""

    def __init__(self, jar_set: str, where, fetch_hint: str):
        super().__init__(f"MLeap jars ({jar_set}) are missing from {where}. {fetch_hint}")


class StageNotSerializable(BundlerError):
    """A pipeline stage that MLeap's serializer cannot write."""

    def __init__(self, stage_uid: str, class_name: str, reason: str, *, java_trace: str | None = None):
        self.stage_uid = stage_uid
        self.class_name = class_name
        super().__init__(f"stage {stage_uid!r} ({class_name}) cannot be exported: {reason}", java_trace=java_trace)


class NotAPipelineModel(BundlerError):
    pass


class MissingColumns(BundlerError):
    def __init__(self, missing: dict[str, str]):
        # missing: column -> stage uid that needs it
        self.missing = missing
        parts = ", ".join(f"{col!r} (needed by {stage})" for col, stage in missing.items())
        super().__init__(f"the sample data lacks column(s) the pipeline needs: {parts}")


class OutputExists(BundlerError):
    def __init__(self, path: str):
        super().__init__(f"output {path} already exists; pass --force (force=True) to replace it")


class VerificationFailed(BundlerError):
    pass


class SampleNotTransformable(BundlerError):
    """Spark's own transform refuses the sample rows (e.g. a null where a stage's handleInvalid is
    "error"): the export cannot be verified, and nothing is written. ``cause``: Spark's reason."""

    def __init__(self, cause: str):
        self.cause = cause
        super().__init__(f"Spark cannot transform the sample: {cause} -- the sample must hold rows that "
                         f"model.transform accepts")


def java_root_cause(err) -> str:
    """'Class: message' of the innermost cause of a Py4JJavaError."""
    try:
        cause = err.java_exception
        while cause.getCause() is not None:
            cause = cause.getCause()
        return f"{cause.getClass().getName()}: {cause.getMessage()}"
    except Exception:  # the JVM may be gone
        return str(err).splitlines()[0] if str(err) else type(err).__name__


def spark_failure(err) -> str | None:
    """One line saying why pyspark or py4j raised ``err`` (a Java error's innermost cause), or None
    when ``err`` does not come from Spark."""
    if not type(err).__module__.startswith(("pyspark", "py4j")):
        return None
    if hasattr(err, "java_exception"):  # Py4JJavaError
        return java_root_cause(err)
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__
