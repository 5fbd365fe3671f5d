"""MLeap's serving API without its transport: what the gRPC servicer (server/services/mleap.py) and
the HTTP endpoints (server/http_mleap.py) both answer, on one registry.

* ``model(name)``: the Model message (the uri MLeap's LoadModel was given, else the bundle served);
* ``bundle_meta(name)``: the BundleMeta message (the bundle's info, input and output schemas);
* ``load(request)`` / ``unload(name)``: MLeap's LoadModel and UnloadModel onto the registry's admin
  loading (bundles only from the model directory and the admin paths; ``file:`` URIs and plain
  paths); the caller checks the admin flag and token first;
* ``transform(served, frame, format, options)``: a frame in, the transformed frame out, both in the
  same format (``options``: the request's TransformOptions, select and select mode); a frame that
  cannot be read or scored raises one of TRANSFORM_ERRORS, which ``transform_failure`` turns into
  the failure its answer carries.

One MleapModels per registry (``models_of``), so a model loaded over HTTP shows its uri over gRPC.
"""

from __future__ import annotations

import threading
import weakref

import grpc
from urllib.parse import unquote, urlsplit

from leapserve.mleap import mleap_pb2 as pb
from leapserve.runtime.errors import ScoringError

from .errors import AlreadyExists, BadRequest
from .frames import UnwritableValue, decode_frame, fill_schema_message, field_of, transform_frame
from .registry import Registry
from .services.admin import MAX_NAME_LENGTH, MAX_PATH_LENGTH, _check_text
from .services.common import Failure, scoring_failure

# What transforming a frame or row raises for that frame or row alone: MLeap answers it in the
# response (STATUS_ERROR), not as the call's status.
TRANSFORM_ERRORS = (ScoringError, UnwritableValue)


def transform_failure(e: ScoringError | UnwritableValue) -> Failure:
    """The failure a frame's or row's answer carries: the client's (INVALID_ARGUMENT) for bad input,
    the server's (INTERNAL) for a result its output field cannot hold."""
    if isinstance(e, UnwritableValue):
        return Failure(grpc.StatusCode.INTERNAL, str(e))
    return scoring_failure(e)


def bundle_path(uri: str) -> str:
    """The path a LoadModel uri names: ``file:`` URIs (file:/p, file:///p, file://localhost/p) and
    plain paths; any other scheme is refused."""
    if not uri:
        raise BadRequest("uri: expected a file: URI or a path to a bundle, got nothing")
    try:
        parts = urlsplit(uri)
    except ValueError as e:  # an unclosed "[" of an IPv6 host
        raise BadRequest(f"uri {uri!r}: expected a file: URI or a path, got one that cannot be parsed ({e})") from None
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise BadRequest(f"uri {uri!r}: expected a file: URI on this host, got host {parts.netloc!r}")
        if parts.query or parts.fragment:  # as Java's Paths.get(URI) refuses them
            raise BadRequest(f"uri {uri!r}: expected a file: URI without a query or fragment (a '?' or '#' "
                             "in a file name is written %3F, %23)")
        path = unquote(parts.path)
        _check_text("uri", path, MAX_PATH_LENGTH, slash_ok=True)  # %00 and %0A decode to control characters
        return path
    if parts.scheme and len(parts.scheme) > 1:  # "c:" would be a drive, not a scheme
        raise BadRequest(f"uri {uri!r}: scheme {parts.scheme!r} is not supported; expected a file: URI or a "
                         "path inside the model directory or the admin paths")
    return uri


class MleapModels:
    def __init__(self, registry: Registry, max_batch_rows: int = 100_000):
        self.registry = registry
        self.max_batch_rows = max_batch_rows
        self._lock = threading.Lock()
        self._models: dict[str, tuple[str, bytes]] = {}  # name -> (uri, ModelConfig) of MLeap's LoadModel
        self.unload_hooks: list = []  # fn(name), called after a model is unloaded

    def served(self, name: str):
        """The default version's served model (NOT_FOUND / UNAVAILABLE as the registry says)."""
        return self.registry.resolve(name, "")

    def model(self, name: str) -> pb.Model:
        model = pb.Model(name=name)
        versions = self.registry.versions(name)  # NOT_FOUND for an unknown model
        uri, config = self._models.get(name, ("", b""))
        if config:
            model.config.MergeFromString(config)
        if not uri:  # not loaded by MLeap's LoadModel: the bundle it serves, as ListModels shows it
            default = next((v for v in versions if v["is_default"]), versions[-1] if versions else None)
            uri = default["path"] if default else ""
        model.uri = uri
        return model

    def bundle_meta(self, name: str) -> pb.BundleMeta:
        pipeline = self.served(name).pipeline
        meta = pb.BundleMeta()
        info = pipeline.info
        b = meta.bundle
        b.uid, b.name, b.version, b.timestamp = info.uid, info.name, info.version, info.timestamp
        b.format = 1 if str(info.format).lower() == "protobuf" else 0
        fill_schema_message(meta.input_schema, [field_of(n, pipeline.schema(n)) for n in pipeline.inputs])
        fill_schema_message(meta.output_schema, [field_of(n, pipeline.schema(n)) for n in pipeline.outputs])
        return meta

    def load(self, request: pb.LoadModelRequest) -> pb.Model:
        name = request.model_name
        _check_text("model_name", name, MAX_NAME_LENGTH)
        _check_text("uri", request.uri, MAX_PATH_LENGTH, slash_ok=True)
        path = bundle_path(request.uri)
        if not request.force and name in self.registry.model_names():
            raise AlreadyExists(f"model {name!r} already exists; LoadModel with force replaces it")
        self.registry.admin_load(name, "", path)
        with self._lock:
            self._models[name] = (request.uri, request.config.SerializeToString())
        return self.model(name)

    def unload(self, name: str) -> pb.Model:
        model = self.model(name)
        self.registry.admin_unload(name, "")
        with self._lock:
            self._models.pop(name, None)
        for hook in self.unload_hooks:
            hook(name)
        return model

    def transform(self, served, data: bytes, fmt: str, options=None) -> tuple[bytes, int]:
        """(the transformed frame in ``fmt``, its row count) of the frame ``data`` in ``fmt``;
        ``options``: a TransformOptions (None: the whole frame, then every output)."""
        frame = decode_frame(data, fmt, max_rows=self.max_batch_rows, max_string=served.codec.max_string_length)
        select, relaxed = (), False
        if options is not None:
            select, relaxed = list(options.select), options.select_mode == pb.SELECT_MODE_RELAXED
        return transform_frame(served.pipeline, frame, select, relaxed), frame.n


_OF_REGISTRY: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_OF_REGISTRY_LOCK = threading.Lock()


def models_of(registry: Registry, max_batch_rows: int = 100_000) -> MleapModels:
    """The registry's one MleapModels (made at the first call)."""
    with _OF_REGISTRY_LOCK:
        found = _OF_REGISTRY.get(registry)
        if found is None:
            found = _OF_REGISTRY[registry] = MleapModels(registry, max_batch_rows)
        return found


__all__ = ["MleapModels", "TRANSFORM_ERRORS", "bundle_path", "models_of", "transform_failure"]
