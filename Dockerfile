# syntax=docker/dockerfile:1
#
# leapserve's serving image: Python and leapserve with its serving dependencies only, no JVM, no
# Spark, no compilers (leapserve.bundler, the training side, is in the package but imports pyspark
# only when called). Under 250 MB (docs/deploy.md says how that is measured).
#
#   docker build -t leapserve .
#   docker build --build-arg EXTRAS=xgboost -t leapserve:xgboost .   # XGBoost models too (docs/export.md)
#   docker run --rm -p 50051:50051 -p 9095:9095 -v "$PWD/models:/models:ro" leapserve
#
# Arguments go to `leapserve serve`; every setting is also a LEAPSERVE_* variable
# (docs/operations.md). Bundles are read from /models (DIR/NAME.zip is model NAME).

ARG PYTHON_IMAGE=python:3.11-slim

# --- build: a virtual environment holding leapserve and its main dependencies ---------------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore
WORKDIR /src
# The dependency list lives in one place: pyproject.toml's [project] dependencies.
COPY pyproject.toml README.md ./
COPY leapserve ./leapserve
COPY server ./server
COPY bundler ./bundler
COPY deploy/image/install-serving.sh /usr/local/bin/install-serving.sh
# Extras added to the serving install: "" (the default image) or "xgboost" (XGBoost's CPU build)
ARG EXTRAS=""
RUN EXTRAS="${EXTRAS}" sh /usr/local/bin/install-serving.sh /opt/leapserve /src

# --- the image ------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE}
ARG VERSION=0.1.0
ARG REVISION=""
ARG CREATED=""
LABEL org.opencontainers.image.title="leapserve" \
      org.opencontainers.image.description="Serve Spark ML pipelines exported as MLeap bundles over gRPC, with no JVM" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.documentation="docs/deploy.md, docs/operations.md" \
      org.opencontainers.image.base.name="${PYTHON_IMAGE}"

# A fixed uid in group 0: platforms that run containers under a random uid (OpenShift) keep group 0,
# so what the server may write is group-writable: /run/leapserve (its Unix socket) and nothing else.
# /models belongs to root and is read-only to the server: bundles are mounted there (read-only), and
# a server that could write its own models could be made to serve other ones.
RUN useradd --uid 10001 --gid 0 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin leapserve \
 && mkdir -p /models /run/leapserve \
 && chown root:root /models && chmod 0755 /models \
 && chown 10001:0 /run/leapserve && chmod 0775 /run/leapserve

COPY --from=build /opt/leapserve /opt/leapserve

ENV PATH=/opt/leapserve/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    LEAPSERVE_HOST=0.0.0.0 \
    LEAPSERVE_MODEL_DIR=/models \
    LEAPSERVE_METRICS_PORT=9095 \
    LEAPSERVE_DRAIN_SECONDS=3 \
    LEAPSERVE_GRACE_PERIOD=5

USER 10001:0
WORKDIR /models

# 50051: gRPC (leapserve.v1, Open Inference Protocol, grpc.health.v1, reflection).
# 9095: Prometheus metrics over HTTP (/metrics).
EXPOSE 50051 9095

# `leapserve health` finds the server from the same LEAPSERVE_* variables (health port, Unix
# socket, or host and port). Kubernetes ignores HEALTHCHECK: use its grpc probes (deploy/).
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["leapserve", "health", "--quiet", "--timeout", "3"]

# SIGTERM: NOT_SERVING at once, answer for LEAPSERVE_DRAIN_SECONDS, then let calls in progress finish
# within LEAPSERVE_GRACE_PERIOD, then exit 0 (docker stop waits 10 s by default: 3 + 5 fits).
STOPSIGNAL SIGTERM
ENTRYPOINT ["leapserve", "serve"]
