"""inference.GRPCInferenceService: the Open Inference Protocol (KServe v2) over the same models.

Tabular convention: one input tensor per pipeline input field ([n] or [n, 1]; [n, d] for vectors),
one output tensor per output field. Answers use raw_output_contents when the request used
raw_input_contents (as tritonclient does), typed contents otherwise. Rows Spark would drop keep
their place: their outputs are placeholders (NaN, 0 or empty) and the response parameter
``skipped_rows`` lists them ("3,17"). Any invalid row fails the call (INVALID_ARGUMENT naming the
row and field): the protocol has no per-row status.

The repository extension maps onto the registry. RepositoryIndex (read-only, open to every client
as ListModels is) lists each model's versions with their state: READY, LOADING, or UNAVAILABLE with
the reason (paths relative to the model directory and admin paths); models of the model directory
that are not loaded (unloaded) are listed UNAVAILABLE. RepositoryModelLoad and RepositoryModelUnload
are leapserve.v1.ModelService's LoadModel / UnloadModel under the same guard: without --admin they
are UNIMPLEMENTED, with --admin-token every call carries the token (UNAUTHENTICATED otherwise). A load
reads ``--model-dir``/NAME (a bundle ``NAME.zip`` or ``NAME/``, or a folder of versions), or the
string parameter ``path`` (a bundle or a folder of versions inside the model directory or the
admin paths, checked as LoadModel's path is); every version found is loaded (a lone bundle replaces
the model's default version, or becomes version 1). Versions served already that the folder does not
hold stay (RepositoryModelUnload first to drop them). ``config`` and uploaded files are refused.

Importing this module registers the ``inference`` protobuf package; a process that also imports
another copy of it (tritonclient's) cannot import both.
"""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

import grpc
import numpy as np

from leapserve.oip import inference_pb2 as pb
from leapserve.oip import inference_pb2_grpc as pb_grpc

from leapserve.runtime.errors import InvalidInput, MissingInput

from ..discovery import is_bundle_dir, scan_model_dir, scan_versions
from ..errors import BadRequest, LimitExceeded, ModelNotFound, ModelUnavailable, ServeError
from ..registry import LOADING, READY, Registry, version_key
from ..tensors import (datatype_of, fill_contents, input_column, output_size, output_tensor, tensor_nbytes, tensor_raw,
                       tensor_shape)
from .admin import MAX_NAME_LENGTH, MAX_PATH_LENGTH, admin_token_failure
from .common import Failure, check_deadline, failure_of

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["GRPCInferenceService"].full_name
PLATFORM = "leapserve_bundleml"


def _server_version() -> str:
    try:
        return metadata.version("leapserve")
    except metadata.PackageNotFoundError:
        return "0"


class InferenceService(pb_grpc.GRPCInferenceServiceServicer):
    def __init__(self, registry: Registry, *, max_batch_rows: int = 100_000,
                 max_response_bytes: int = 64 * 1024 * 1024, admin: bool = False, admin_token: str | None = None):
        self.registry = registry
        self.admin = admin  # RepositoryModelLoad / RepositoryModelUnload are served only with --admin
        self.admin_token = admin_token or None
        self.max_batch_rows = max_batch_rows
        self.max_response_bytes = max_response_bytes
        self.version = _server_version()

    def ServerLive(self, request, context):
        return pb.ServerLiveResponse(live=True)

    def ServerReady(self, request, context):
        return pb.ServerReadyResponse(ready=self.registry.ready())

    def ModelReady(self, request, context):
        try:
            try:
                self.registry.resolve(request.name, request.version)
                return pb.ModelReadyResponse(ready=True)
            except ModelUnavailable:
                return pb.ModelReadyResponse(ready=False)
        except Exception as e:
            failure = failure_of(e, "", context, "ModelReady")
        failure.abort(context)

    def ServerMetadata(self, request, context):
        return pb.ServerMetadataResponse(name="leapserve", version=self.version, extensions=["model_repository"])

    def ModelMetadata(self, request, context):
        try:
            served = self.registry.resolve(request.name, request.version)
            versions = [v["version"] for v in self.registry.versions(request.name)]
            response = pb.ModelMetadataResponse(name=request.name, versions=sorted(versions, key=version_key),
                                                platform=PLATFORM)
            for name, ftype in served.pipeline.inputs.items():
                response.inputs.add(name=name, datatype=datatype_of(ftype), shape=tensor_shape(ftype))
            for name, ftype in served.pipeline.outputs.items():
                response.outputs.add(name=name, datatype=datatype_of(ftype), shape=tensor_shape(ftype))
            return response
        except Exception as e:
            failure = failure_of(e, "", context, "ModelMetadata")
        failure.abort(context)

    def ModelInfer(self, request, context):
        try:
            check_deadline(context)
            return self._infer(request, context)
        except Exception as e:
            failure = failure_of(e, request.id, context, "ModelInfer")
        failure.abort(context)

    def _infer(self, request, context):
        served = self.registry.resolve(request.model_name, request.model_version)
        codec = served.codec
        raw = request.raw_input_contents
        if raw and len(raw) != len(request.inputs):
            raise BadRequest(f"{len(raw)} raw_input_contents for {len(request.inputs)} inputs; "
                             "raw contents need one entry per input")
        columns = {}
        n = None
        for tensor in request.inputs:  # the row limit, from the shapes alone: nothing is built yet
            shape = list(tensor.shape)
            if shape and shape[0] > self.max_batch_rows:
                raise LimitExceeded(f"{shape[0]} records in one ModelInfer (input {tensor.name!r}, shape {shape}); "
                                    f"the limit is {self.max_batch_rows}")
        for i, tensor in enumerate(request.inputs):
            ftype = codec.inputs.get(tensor.name)
            if ftype is None:
                continue  # a field the pipeline does not read, as in Predict
            col, rows = input_column(ftype, tensor, raw[i] if raw else None, codec.max_string_length)
            if n is None:
                n = rows
            elif rows != n:
                raise InvalidInput(tensor.name, f"{n} records like the other inputs", f"{rows} (shape {list(tensor.shape)})")
            columns[tensor.name] = col
        wanted = [o.name for o in request.outputs] or None
        required = served.pipeline.required_inputs(wanted)
        if any(name not in columns for name in required):  # named all at once, with the tensors sent
            absent = [(name, str(ftype)) for name, ftype in required.items() if name not in columns]
            raise MissingInput(*absent[0], missing=absent, sent=[t.name for t in request.inputs],
                               known=served.pipeline.inputs)
        result = served.pipeline.transform_batch(columns, wanted)
        if n is None:
            n = len(result.skipped)
        names = list(dict.fromkeys(wanted)) if wanted else list(codec.output_names)
        sizes = {name: output_size(codec.outputs[name], result[name], n) for name in names}
        omitted = []
        if wanted is None and _known_bytes(sizes, names) > self.max_response_bytes:
            # Unnamed intermediate columns (a HashingTF's 262,144 features, densified) are what makes
            # the answer huge: leave them out and keep what the pipeline ends with.
            final = _final_outputs(served.pipeline)
            omitted = [name for name in names if name not in final]
            names = [name for name in names if name in final]
        self._check_size(sizes, names, _known_bytes(sizes, names))
        skipped = result.skipped if result.skipped.any() else None
        response = pb.ModelInferResponse(model_name=request.model_name, model_version=served.version, id=request.id)
        use_raw = bool(raw)
        total = _known_bytes(sizes, names)
        for name in names:
            datatype, shape, data = output_tensor(codec.outputs[name], result[name], n, skipped)
            if sizes[name][2] is None:  # BYTES: measured once built
                nbytes = tensor_nbytes(datatype, data)
                sizes[name] = (datatype, shape, nbytes)
                total += nbytes
                self._check_size(sizes, names, total)
            out = response.outputs.add(name=name, datatype=datatype, shape=shape)
            if use_raw:
                response.raw_output_contents.append(tensor_raw(datatype, data))
            else:
                fill_contents(out.contents, datatype, data)
        if omitted:
            response.parameters["omitted_outputs"].string_param = ",".join(omitted)
        if skipped is not None:
            response.parameters["skipped_rows"].string_param = ",".join(map(str, np.nonzero(skipped)[0].tolist()))
        # The estimate above counts the tensors' data; names, framing, varints of negative integers
        # and skipped_rows come on top, and past grpc's own send limit the client would get its
        # generic error instead of this one.
        size = response.ByteSize()
        if size > self.max_response_bytes:
            raise LimitExceeded(f"the answer would be {size:,} bytes with its framing and parameters; the response "
                                f"limit is {self.max_response_bytes:,} bytes (--max-response-bytes)")
        return response

    def _check_size(self, sizes: dict, names: list[str], total: int) -> None:
        limit = self.max_response_bytes
        if total <= limit:
            return
        known = [name for name in names if sizes[name][2] is not None]
        name = max(known, key=lambda k: sizes[k][2])
        datatype, shape, nbytes = sizes[name]
        what = f"output {name!r} of shape {shape} ({datatype}) would be {nbytes:,} bytes"
        if nbytes <= limit:
            what = f"the outputs would be {total:,} bytes in all (the largest: {what})"
        raise LimitExceeded(f"{what}; the response limit is {limit:,} bytes (--max-response-bytes)")

    # --- the repository extension -----------------------------------------------------------

    def RepositoryIndex(self, request, context):
        try:
            _check_repository(request.repository_name)
            response = pb.RepositoryIndexResponse()
            for name, version, state, reason in self._index():
                if not request.ready or state == INDEX_READY:
                    response.models.add(name=name, version=version, state=state, reason=reason)
            return response
        except Exception as e:
            failure = failure_of(e, "", context, "RepositoryIndex")
        failure.abort(context)

    def RepositoryModelLoad(self, request, context):
        failure = self._admin_failure(context, "RepositoryModelLoad")
        if failure is None:
            try:
                self._repository_load(request)
                return pb.RepositoryModelLoadResponse()
            except Exception as e:
                failure = failure_of(e, "", context, "RepositoryModelLoad")
        failure.abort(context)

    def RepositoryModelUnload(self, request, context):
        failure = self._admin_failure(context, "RepositoryModelUnload")
        if failure is None:
            try:
                _check_repository(request.repository_name)
                name = _model_name(request.model_name)
                for key, param in sorted(request.parameters.items()):
                    if key != "unload_dependents":
                        raise FieldError(f"parameters[{key!r}]", "no parameter but 'unload_dependents' (a bool)",
                                         f"a parameter {key!r}")
                    _parameter(key, param, "bool_param")  # a bundle has no dependents: its value changes nothing
                self.registry.admin_unload(name, "")
                return pb.RepositoryModelUnloadResponse()
            except Exception as e:
                failure = failure_of(e, "", context, "RepositoryModelUnload")
        failure.abort(context)

    def _admin_failure(self, context, rpc: str) -> Failure | None:
        if not self.admin:
            return Failure(grpc.StatusCode.UNIMPLEMENTED,
                           f"{rpc} is part of the admin API, which is off: start the server with --admin")
        return admin_token_failure(self.admin_token, context)

    def _index(self) -> list[tuple[str, str, str, str]]:
        """(model, version, state, reason) of every version the registry knows, and of the model
        directory's versions it does not serve (unloaded ones), by name and version."""
        entries = {}
        for name in self.registry.model_names():
            try:
                versions = self.registry.versions(name)
            except ModelNotFound:
                continue  # unloaded meanwhile
            for info in versions:
                entries[(name, info["version"])] = _index_state(info)
        if self.registry.model_dir is not None:
            try:
                scanned = scan_model_dir(self.registry.model_dir)
            except OSError:
                scanned = {}  # the registry reports an unreadable model directory (ServerReady, logs)
            for name, scan in scanned.items():
                for version in scan.versions:
                    entries.setdefault((name, version), (INDEX_UNAVAILABLE, "not loaded"))
        return [(name, version, state, reason) for (name, version), (state, reason)
                in sorted(entries.items(), key=lambda kv: (kv[0][0], version_key(kv[0][1])))]

    def _repository_load(self, request) -> None:
        _check_repository(request.repository_name)
        name = _model_name(request.model_name)
        path = None
        for key, param in sorted(request.parameters.items()):
            if key == "path":
                path = _parameter(key, param, "string_param")
                if not path:
                    raise FieldError("parameters['path']", "a path to a bundle or a folder of versions", "''")
                if len(path) > MAX_PATH_LENGTH or any(ord(c) < 32 or c == "\x7f" for c in path):
                    raise FieldError("parameters['path']", f"a path of at most {MAX_PATH_LENGTH} printable characters",
                                     f"{len(path)} characters" + (", some of them control characters"
                                                                   if len(path) <= MAX_PATH_LENGTH else ""))
            elif key == "config":
                raise FieldError("parameters['config']", "no model configuration: a bundle carries its own",
                                 f"{len(param.string_param or param.bytes_param)} characters of configuration")
            elif key.startswith("file:"):
                raise FieldError(f"parameters[{key!r}]", "no uploaded files: name a bundle inside the model directory "
                                 "or the admin paths with the string parameter 'path'",
                                 f"{len(param.bytes_param)} bytes uploaded")
            else:
                raise FieldError(f"parameters[{key!r}]", "no parameter but 'path' (a string)", f"a parameter {key!r}")
        registry = self.registry
        if path is None:
            if registry.model_dir is None:
                raise FieldError("parameters['path']", f"a path to model {name!r}'s bundle (the server has no "
                                 "--model-dir to find it in)", "no path")
            found = [p for p in (name, name + ".zip") if _exists(registry.model_dir / p)]
            if not found:
                raise ModelNotFound(f"model {name!r}: the model directory holds no {name}.zip, bundle {name}/ or "
                                    f"folder of versions {name}/; name a bundle with the parameter 'path'")
            path = found[0]
        folder = _folder_of_versions(registry, path)
        if folder is None:  # a bundle (or nothing): LoadModel's own checks and answers
            registry.admin_load(name, "", path)
            return
        try:
            scan = scan_versions(folder)
        except OSError as e:
            raise BadRequest(f"path {path!r}: cannot be read: {registry.for_clients(str(e))}") from None
        if not scan.versions:
            notes = "".join(f"; {registry.for_clients(n)}" for n in scan.notes)
            raise BadRequest(f"path {path!r}: expected a bundle or a folder of versions (1.zip, 2/, ...); it holds "
                             f"no version{notes}")
        loaded, failures = [], []
        for version in sorted(scan.versions, key=version_key):
            bundle = str(Path(path) / scan.versions[version].relative_to(folder))
            try:
                registry.admin_load(name, version, bundle)  # each bundle checked as LoadModel checks it
                loaded.append(version)
            except ServeError as e:  # the other versions still load, as the watcher would load them
                failures.append(e)
        if failures:
            done = f" (loaded: version {', '.join(loaded)})" if loaded else ""
            first = failures[0]
            raise type(first)("; ".join(f.message for f in failures) + done)


INDEX_READY, INDEX_UNAVAILABLE, INDEX_LOADING = "READY", "UNAVAILABLE", "LOADING"


def _index_state(info: dict) -> tuple[str, str]:
    """A version's RepositoryIndex state and reason, from the registry's info of it."""
    if info["state"] == READY:
        return INDEX_READY, (f"reload failed, the previous copy serves: {info['error']}" if info["error"] else "")
    if info["state"] == LOADING:
        return INDEX_LOADING, ""
    return INDEX_UNAVAILABLE, info["error"] or "failed to load"


class FieldError(BadRequest):
    """INVALID_ARGUMENT for one field of a repository call, its expected and actual value apart in
    the trailing metadata too."""

    def __init__(self, field: str, expected: str, actual: str):
        super().__init__(f"{field}: expected {expected}; got {actual}")
        self.failure = Failure(grpc.StatusCode.INVALID_ARGUMENT, self.message, field, expected, actual)


def _check_repository(repository: str) -> None:
    if repository:
        raise FieldError("repository_name", "'' (leapserve serves one repository)", repr(repository[:100]))


def _model_name(name: str) -> str:
    if not name:
        raise FieldError("model_name", "the name of a model", "''")
    if (len(name) > MAX_NAME_LENGTH or any(ord(c) < 32 or c == "\x7f" for c in name)
            or "/" in name or "\\" in name or name in (".", "..")):
        raise FieldError("model_name", f"a plain name (at most {MAX_NAME_LENGTH} printable characters, no '/')",
                         repr(name[:100]) + (f" ({len(name)} characters)" if len(name) > 100 else ""))
    return name


def _parameter(key: str, param, kind: str):
    which = param.WhichOneof("parameter_choice")
    if which != kind:
        raise FieldError(f"parameters[{key!r}]", f"a {kind}", f"a {which}" if which else "no value")
    return getattr(param, kind)


def _exists(path: Path) -> bool:
    """Path.exists, False for a name no file can have (a part over 255 bytes raises OSError)."""
    try:
        return path.exists()
    except OSError:
        return False


def _folder_of_versions(registry: Registry, path: str) -> Path | None:
    """The folder of versions ``path`` names, or None when it names anything else (a bundle, or
    nothing: LoadModel's checks then answer). A folder outside the allowed roots is refused here,
    before it is listed, with LoadModel's words."""
    if path.startswith("~"):
        return None  # LoadModel refuses it
    p = registry.allowed_path(path)
    if p.is_dir() and not is_bundle_dir(p):
        return p
    return None


def _known_bytes(sizes: dict, names: list[str]) -> int:
    return sum(sizes[name][2] or 0 for name in names)


def _final_outputs(pipeline) -> set[str]:
    """The columns the pipeline adds that no later stage reads (its results, not its intermediates)."""
    read = {col for stage in pipeline.stages for _, col, _ in stage.inputs}
    final = {name for name in pipeline.outputs if name not in read}
    return final or set(pipeline.outputs)


__all__ = ["InferenceService", "SERVICE_NAME"]
