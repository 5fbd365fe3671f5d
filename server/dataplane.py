"""The Open Inference Protocol (KServe v2) apart from its transports: what services/oip.py (gRPC)
and http_oip.py (REST) both answer, on the registry's models.

* Metadata: the server's (name, version, extensions) and a model's (versions, platform, one tensor
  per pipeline input and output field).
* Inference: request tensors -> runtime columns -> response tensors (server/tensors.py holds the
  tabular convention). Input tensors are any objects with ``name``, ``datatype``, ``shape`` and
  ``contents`` (typed contents by field name, as the protobuf message has them), or raw bytes.
  Rows Spark would drop keep their place: their outputs are placeholders (NaN, 0 or empty) and the
  response parameter ``skipped_rows`` lists them ("3,17"). Any invalid row fails the call (naming
  the row and field): the protocol has no per-row status.
* The repository extension, mapped onto the registry (index, load, unload); parameters come as
  {key: (kind, value)}, kind the protocol's InferParameter choice (``string_param``, ``bool_param``,
  ``int64_param``, ``bytes_param``, ``double_param``).

Errors are server/errors.py's and the runtime's: each transport turns them into its status.
Nothing here imports grpc or the generated OIP code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import numpy as np

from leapserve.runtime.errors import InvalidInput

from .discovery import is_bundle_dir, scan_model_dir, scan_versions
from .errors import BadRequest, FieldError, LimitExceeded, ModelNotFound, ModelUnavailable, ServeError
from .registry import LOADING, READY, Registry, version_key
from .tensors import datatype_of, input_column, output_size, output_tensor, tensor_nbytes, tensor_shape

SERVER_NAME = "leapserve"
PLATFORM = "leapserve_bundleml"
EXTENSIONS = ("model_repository",)
MAX_NAME_LENGTH = 256
MAX_PATH_LENGTH = 4096


def server_version() -> str:
    try:
        return metadata.version("leapserve")
    except metadata.PackageNotFoundError:
        return "0"


# --- metadata ------------------------------------------------------------------------------------

@dataclass
class TensorSpec:
    name: str
    datatype: str
    shape: list[int]


@dataclass
class ModelMetadata:
    name: str
    versions: list[str]
    platform: str
    inputs: list[TensorSpec]
    outputs: list[TensorSpec]


def model_ready(registry: Registry, name: str, version: str) -> bool:
    """Whether the model version serves (False while it loads or after it failed); an unknown model
    or version raises ModelNotFound."""
    try:
        registry.resolve(name, version)
        return True
    except ModelUnavailable:
        return False


def model_metadata(registry: Registry, name: str, version: str) -> ModelMetadata:
    served = registry.resolve(name, version)
    versions = [v["version"] for v in registry.versions(name)]
    pipeline = served.pipeline
    return ModelMetadata(
        name=name, versions=sorted(versions, key=version_key), platform=PLATFORM,
        inputs=[TensorSpec(n, datatype_of(t), tensor_shape(t)) for n, t in pipeline.inputs.items()],
        outputs=[TensorSpec(n, datatype_of(t), tensor_shape(t)) for n, t in pipeline.outputs.items()])


# --- inference -----------------------------------------------------------------------------------

@dataclass
class OutputTensor:
    name: str
    datatype: str
    shape: list[int]
    data: object  # a numpy array, or a list of bytes for BYTES


@dataclass
class InferResult:
    model_version: str  # the version that answered
    outputs: list[OutputTensor]
    parameters: dict[str, str] = field(default_factory=dict)  # skipped_rows, omitted_outputs
    nbytes: int = 0  # the outputs' data, as raw contents
    skipped_count: int = 0  # rows Spark would drop (the parameter skipped_rows lists them)


class Inference:
    """Scoring OIP tensors on the registry's models, within the row and response limits."""

    def __init__(self, registry: Registry, *, max_batch_rows: int = 100_000,
                 max_response_bytes: int = 64 * 1024 * 1024):
        self.registry = registry
        self.max_batch_rows = max_batch_rows
        self.max_response_bytes = max_response_bytes

    def infer(self, model: str, version: str, inputs, raw: list[bytes] | None, wanted: list[str] | None,
              call: str = "ModelInfer", served=None) -> InferResult:
        """Score ``inputs`` (with ``raw``: one raw content per input, in order) and answer the
        ``wanted`` outputs (None: every output). ``call`` names the request in errors; ``served``:
        the model version resolved already (None: resolved here)."""
        if served is None:
            served = self.registry.resolve(model, version)
        codec = served.codec
        if raw and len(raw) != len(inputs):
            raise BadRequest(f"{len(raw)} raw_input_contents for {len(inputs)} inputs; "
                             "raw contents need one entry per input")
        columns = {}
        n = None
        for tensor in inputs:  # the row limit, from the shapes alone: nothing is built yet
            shape = list(tensor.shape)
            if shape and shape[0] > self.max_batch_rows:
                raise LimitExceeded(f"{shape[0]} records in one {call} (input {tensor.name!r}, shape {shape}); "
                                    f"the limit is {self.max_batch_rows}")
        for i, tensor in enumerate(inputs):
            ftype = codec.inputs.get(tensor.name)
            if ftype is None:
                continue  # a field the pipeline does not read, as in Predict
            col, rows = input_column(ftype, tensor, raw[i] if raw else None, codec.max_string_length)
            if n is None:
                n = rows
            elif rows != n:
                raise InvalidInput(tensor.name, f"{n} records like the other inputs", f"{rows} (shape {list(tensor.shape)})")
            columns[tensor.name] = col
        # Missing inputs are named with every tensor sent, not only those the pipeline reads.
        result = served.pipeline.transform_batch(columns, wanted, sent=[t.name for t in inputs])
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
        total = _known_bytes(sizes, names)
        self._check_size(sizes, names, total)
        skipped = result.skipped if result.skipped.any() else None
        outputs = []
        for name in names:
            datatype, shape, data = output_tensor(codec.outputs[name], result[name], n, skipped)
            if sizes[name][2] is None:  # BYTES: measured once built
                nbytes = tensor_nbytes(datatype, data)
                sizes[name] = (datatype, shape, nbytes)
                total += nbytes
                self._check_size(sizes, names, total)
            outputs.append(OutputTensor(name, datatype, shape, data))
        parameters = {}
        if omitted:
            parameters["omitted_outputs"] = ",".join(omitted)
        skipped_count = 0
        if skipped is not None:
            skipped_rows = np.nonzero(skipped)[0].tolist()
            skipped_count = len(skipped_rows)
            parameters["skipped_rows"] = ",".join(map(str, skipped_rows))
        return InferResult(served.version, outputs, parameters, total, skipped_count)

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

    def check_answer_size(self, size: int) -> None:
        """The whole answer as the transport sends it (framing, names, parameters on top of the
        tensors' data): past the limit, the client gets this error rather than its stack's own."""
        if size > self.max_response_bytes:
            raise LimitExceeded(f"the answer would be {size:,} bytes with its framing and parameters; the response "
                                f"limit is {self.max_response_bytes:,} bytes (--max-response-bytes)")


def _known_bytes(sizes: dict, names: list[str]) -> int:
    return sum(sizes[name][2] or 0 for name in names)


def _final_outputs(pipeline) -> set[str]:
    """The columns the pipeline adds that no later stage reads (its results, not its intermediates)."""
    read = {col for stage in pipeline.stages for _, col, _ in stage.inputs}
    final = {name for name in pipeline.outputs if name not in read}
    return final or set(pipeline.outputs)


# --- the repository extension --------------------------------------------------------------------

INDEX_READY, INDEX_UNAVAILABLE, INDEX_LOADING = "READY", "UNAVAILABLE", "LOADING"


@dataclass
class IndexEntry:
    name: str
    version: str
    state: str
    reason: str


class Repository:
    """The repository extension on the registry. RepositoryIndex lists each model's versions with
    their state: READY, LOADING, or UNAVAILABLE with the reason (paths relative to the model
    directory and admin paths); models of the model directory that are not loaded (unloaded) are
    listed UNAVAILABLE. A load reads ``--model-dir``/NAME (a bundle ``NAME.zip`` or ``NAME/``, or a
    folder of versions), or the string parameter ``path`` (a bundle or a folder of versions inside
    the model directory or the admin paths, checked as LoadModel's path is); every version found is
    loaded (a lone bundle replaces the model's default version, or becomes version 1). Versions
    served already that the folder does not hold stay (unload first to drop them). ``config`` and
    uploaded files are refused. Who may load and unload is the transport's check (the admin flag
    and token)."""

    def __init__(self, registry: Registry):
        self.registry = registry

    def index(self, repository: str, ready_only: bool = False) -> list[IndexEntry]:
        """(model, version, state, reason) of every version the registry knows, and of the model
        directory's versions it does not serve (unloaded ones), by name and version."""
        check_repository(repository)
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
        out = [IndexEntry(name, version, state, reason) for (name, version), (state, reason)
               in sorted(entries.items(), key=lambda kv: (kv[0][0], version_key(kv[0][1])))]
        return [e for e in out if e.state == INDEX_READY] if ready_only else out

    def unload(self, repository: str, model: str, parameters: dict[str, tuple[str, object]]) -> None:
        check_repository(repository)
        name = model_name(model)
        for key, param in sorted(parameters.items()):
            if key != "unload_dependents":
                raise FieldError(f"parameters[{key!r}]", "no parameter but 'unload_dependents' (a bool)",
                                 f"a parameter {key!r}")
            _parameter(key, param, "bool_param")  # a bundle has no dependents: its value changes nothing
        self.registry.admin_unload(name, "")

    def load(self, repository: str, model: str, parameters: dict[str, tuple[str, object]]) -> None:
        check_repository(repository)
        name = model_name(model)
        path = None
        for key, param in sorted(parameters.items()):
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
                                 f"{_length(param[1])} characters of configuration")
            elif key.startswith("file:"):
                raise FieldError(f"parameters[{key!r}]", "no uploaded files: name a bundle inside the model directory "
                                 "or the admin paths with the string parameter 'path'",
                                 f"{_length(param[1])} bytes uploaded")
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


def _index_state(info: dict) -> tuple[str, str]:
    """A version's RepositoryIndex state and reason, from the registry's info of it."""
    if info["state"] == READY:
        return INDEX_READY, (f"reload failed, the previous copy serves: {info['error']}" if info["error"] else "")
    if info["state"] == LOADING:
        return INDEX_LOADING, ""
    return INDEX_UNAVAILABLE, info["error"] or "failed to load"


def check_repository(repository: str) -> None:
    if repository:
        raise FieldError("repository_name", "'' (leapserve serves one repository)", repr(repository[:100]))


def model_name(name: str) -> str:
    if not name:
        raise FieldError("model_name", "the name of a model", "''")
    if (len(name) > MAX_NAME_LENGTH or any(ord(c) < 32 or c == "\x7f" for c in name)
            or "/" in name or "\\" in name or name in (".", "..")):
        raise FieldError("model_name", f"a plain name (at most {MAX_NAME_LENGTH} printable characters, no '/')",
                         repr(name[:100]) + (f" ({len(name)} characters)" if len(name) > 100 else ""))
    return name


def _parameter(key: str, param: tuple[str, object], kind: str):
    which, value = param
    if which != kind:
        raise FieldError(f"parameters[{key!r}]", f"a {kind}", f"a {which}" if which else "no value")
    return value


def _length(value) -> int:
    return len(value) if isinstance(value, (str, bytes)) else 0


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
