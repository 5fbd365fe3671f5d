"""The one local SparkSession of the training side, with MLeap's serializer on its classpath."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
import threading

from . import jars
from .errors import BundlerError, JavaNotFound, PackagesMissing

# Spark 3.5 runs on Java 8, 11 and 17 (and 21 from 3.5.0 on); leapserve's machines have 17.
JAVA_MIN, JAVA_MAX = 11, 21

# Arrow's Java library checks bounds and reference counts on every buffer read, and nulls on every
# get. Spark reads mapInArrow's answers (bundler.score) value by value through those reads; in a
# profile of bundler.score the checks took a fifth of the JVM's samples, and without them it runs
# about 10% faster. The buffers are pyarrow's, written by our Python worker and read by Spark's own
# Arrow reader.
ARROW_JAVA_OPTIONS = "-Darrow.enable_unsafe_memory_access=true -Darrow.enable_null_check_for_get=false"

# What the training side imports from the `bundler` extra: a session needs pyspark (py4j comes with
# it); scoring DataFrames (mapInArrow) also needs pyarrow and pandas.
SESSION_PACKAGES = ("pyspark",)
SCORING_PACKAGES = ("pyspark", "pyarrow", "pandas")

_session = None
_lock = threading.Lock()


def check_packages(packages=SESSION_PACKAGES) -> None:
    """Raise PackagesMissing naming each of ``packages`` that is not installed (a serving-only
    install has none): checked first, since Java and MLeap's jars are of no use without them."""
    missing = [name for name in packages if importlib.util.find_spec(name) is None]
    if missing:
        raise PackagesMissing(missing)


def java_version() -> int:
    """Major version of the java that Spark will start; raises JavaNotFound with a clear message."""
    java = jars.java_executable()
    try:
        out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=60)
    except (FileNotFoundError, PermissionError):
        raise JavaNotFound(
            f"Java is needed to run Spark but was not found (looked for {java!r} via JAVA_HOME and PATH). "
            f"Install a JDK {JAVA_MIN}-{JAVA_MAX} (Java 17 recommended)."
        ) from None
    m = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
    if not m:
        raise JavaNotFound(f"could not read the Java version from `{java} -version`: {out.stderr.strip()!r}")
    major = int(m.group(1))
    if major == 1 and m.group(2):  # "1.8.0_x" style
        major = int(m.group(2))
    if not JAVA_MIN <= major <= JAVA_MAX:
        raise JavaNotFound(
            f"Java {major} found at {java}, but Spark 3.5 needs Java {JAVA_MIN} to {JAVA_MAX} "
            f"(Java 17 recommended); point JAVA_HOME at one."
        )
    return major


def spark_session():
    """The local SparkSession with MLeap's jars and leapserve's Spark ops on the driver classpath
    (and xgboost4j-spark's when they are fetched), created once and reused.

    Logs are quiet (errors only), the UI is off, and Spark binds to loopback.
    """
    global _session
    with _lock:
        if _session is not None and _session.sparkContext._jsc is not None:
            return _session
        check_packages()
        java_version()
        # MLeap's jars first: the check below looks for classpath[0]; then leapserve's own ops for
        # MLeap's serializer, which the registry config lists
        classpath = jars.MLEAP_SPARK.classpath() + jars.spark_ops_classpath() + jars.optional_classpath()
        registry_conf = jars.spark_registry_conf()
        from pyspark.sql import SparkSession

        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        log_conf = jars.JVM_DIR / "log4j2.properties"
        java_opts = f"-Dconfig.file={registry_conf} -Dlog4j2.configurationFile={log_conf} {ARROW_JAVA_OPTIONS}"
        builder = (
            SparkSession.builder.master(os.environ.get("LEAPSERVE_SPARK_MASTER", "local[2]"))
            .appName("leapserve")
            .config("spark.driver.extraClassPath", os.pathsep.join(classpath))
            .config("spark.driver.extraJavaOptions", java_opts)
            .config("spark.executor.extraJavaOptions", ARROW_JAVA_OPTIONS)  # a cluster's executors
            .config("spark.driver.memory", os.environ.get("LEAPSERVE_SPARK_DRIVER_MEMORY", "2g"))
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.sql.shuffle.partitions", "2")
            .config("spark.sql.session.timeZone", "UTC")
        )
        existing = SparkSession.getActiveSession()
        if existing is not None:
            have = existing.sparkContext.getConf().get("spark.driver.extraClassPath", "")
            if classpath[0] not in have:
                raise BundlerError(
                    "a SparkSession without MLeap's jars is already running in this process; "
                    "create sessions with bundler.spark_session()"
                )
        _session = builder.getOrCreate()
        _session.sparkContext.setLogLevel("ERROR")
        init_lapack_constants(_session)
        return _session


def silence_logs(spark) -> None:
    """Turn Spark's log off. Spark logs each failed task at ERROR level with its Java stack trace;
    the commands report a failure in one line of their own instead (and everything with --debug)."""
    spark.sparkContext.setLogLevel("OFF")


def init_lapack_constants(spark) -> None:
    """Have the JVM's Java LAPACK work out its machine constants now, on this one thread.

    Without a native LAPACK, Spark's linear algebra runs netlib's Java translation of LAPACK
    (F2jLAPACK), which computes its machine constants (dlamch: precision, safe minimum, ...) on
    first use into shared static fields, without a lock. Two threads making that first call at once
    can get, and leave, wrong ones (forced to race here, 3.7% of rounds did), and LAPACK loops that
    rely on them can then run forever (netlib-java issue #5). That is the likely cause of a CI run
    that hung in a local-mode GaussianMixture fit, whose first EM round decomposes covariances in
    two tasks at once. After one call the constants are set and later calls only read them. A JVM
    without that LAPACK (another Spark build) has nothing to set."""
    from py4j.protocol import Py4JError

    try:
        spark._jvm.org.netlib.lapack.Dlamch.dlamch("E")
    except Py4JError:
        pass
