"""leapserve: Spark ML pipelines exported as MLeap bundles, scored without a JVM.

One import package: the runtime (leapserve.runtime), the gRPC server (leapserve.server), the
training side (leapserve.bundler), the command line (leapserve.cli) and the code generated from
protos/ (leapserve.v1, leapserve.oip, leapserve.bundleml).
"""
