"""The Open Inference Protocol's REST v2 on the HTTP port (server/http.py), as tritonclient.http
and KServe's REST clients speak it. What is answered is server/dataplane.py's, as on gRPC.

* GET ``/v2/health/live`` -> ``{"live": true}``; GET ``/v2/health/ready`` -> ``{"ready": bool}``,
  status 200 when ready, else 400 (also from SIGTERM on, while the server drains); GET
  ``/v2/models/{m}[/versions/{v}]/ready`` -> ``{"name", "ready"}``, 200 or 400, 404 for a model or
  version the server does not know.
* GET ``/v2`` (server metadata), GET ``/v2/models/{m}[/versions/{v}]`` (model metadata: the gRPC
  ModelMetadata's fields).
* POST ``/v2/models/{m}[/versions/{v}]/infer``: inputs as JSON ``data`` (flat or nested, row-major;
  BYTES as UTF-8 strings) or, with the binary tensor extension, as ``binary_data_size`` bytes after
  the JSON part, whose length the ``Inference-Header-Content-Length`` header gives (BYTES elements
  each after its 4-byte little-endian length). Outputs come as JSON ``data`` unless the request
  parameter ``binary_data_output`` or an output's ``binary_data`` parameter asks for binary.
* The repository extension: POST ``/v2/repository/index`` (body empty or ``{"ready": bool}``),
  POST ``/v2/repository/models/{m}/load`` and ``/unload`` with ``{"parameters": {...}}``. Load and
  unload are served with ``--admin`` only (403 otherwise) and, with ``--admin-token``, need the
  header ``Authorization: Bearer <token>`` or ``x-leapserve-admin-token: <token>`` (401 otherwise),
  the gRPC metadata of the same names.
"""

from __future__ import annotations

import json
import math

import numpy as np

from leapserve.runtime.errors import InvalidInput

from .dataplane import (EXTENSIONS, SERVER_NAME, Inference, Repository, model_metadata, model_ready,
                        server_version)
from .errors import parse_json
from .http import Call, HttpPort, check_admin, field_error, json_response, INLINE_BODY_BYTES
from .tensors import NUMPY_OF_DATATYPE, serialize_bytes, tensor_raw

HEADER_LENGTH = "Inference-Header-Content-Length"
DATATYPES = (*NUMPY_OF_DATATYPE, "BYTES")


def add_routes(port: HttpPort) -> None:
    config = port.config
    api = RestApi(port, Inference(port.registry, max_batch_rows=config.max_batch_rows,
                                  max_response_bytes=config.max_response_bytes or config.max_message_size),
                  Repository(port.registry))
    route = port.route
    route("GET", "/v2/health/live", "ServerLive", api.server_live)
    route("GET", "/v2/health/ready", "ServerReady", api.server_ready)
    route("GET", "/v2", "ServerMetadata", api.server_metadata)
    for base in ("/v2/models/{model}", "/v2/models/{model}/versions/{version}"):
        route("GET", base, "ModelMetadata", api.model_metadata)
        route("GET", base + "/ready", "ModelReady", api.model_ready)
        route("POST", base + "/infer", "ModelInfer", api.infer)
    route("POST", "/v2/repository/index", "RepositoryIndex", api.repository_index)
    route("POST", "/v2/repository/models/{model}/load", "RepositoryModelLoad", api.repository_load)
    route("POST", "/v2/repository/models/{model}/unload", "RepositoryModelUnload", api.repository_unload)


class RestApi:
    def __init__(self, port: HttpPort, inference: Inference, repository: Repository):
        self.port = port
        self.registry = port.registry
        self.inference = inference
        self.repository = repository
        self.version = server_version()

    # --- health and metadata -----------------------------------------------------------------

    async def server_live(self, call: Call):
        return json_response({"live": True})

    async def server_ready(self, call: Call):
        ready = not self.port.draining and self.registry.ready()
        return json_response({"ready": ready}, 200 if ready else 400)

    async def server_metadata(self, call: Call):
        return json_response({"name": SERVER_NAME, "version": self.version, "extensions": list(EXTENSIONS)})

    async def model_ready(self, call: Call, model: str, version: str = ""):
        call.model, call.version = model, version
        ready = model_ready(self.registry, model, version) and not self.port.draining
        return json_response({"name": model, "ready": ready}, 200 if ready else 400)

    async def model_metadata(self, call: Call, model: str, version: str = ""):
        call.model, call.version = model, version
        md = model_metadata(self.registry, model, version)
        return json_response({
            "name": md.name, "versions": md.versions, "platform": md.platform,
            "inputs": [{"name": t.name, "datatype": t.datatype, "shape": t.shape} for t in md.inputs],
            "outputs": [{"name": t.name, "datatype": t.datatype, "shape": t.shape} for t in md.outputs]})

    # --- inference -----------------------------------------------------------------------------

    async def infer(self, call: Call, model: str, version: str = ""):
        call.model, call.version = model, version
        body = await call.body()
        header_length = call.request.headers.get(HEADER_LENGTH)
        body_out, headers, rows = await call.run(self._infer, model, version, body, header_length,
                                                 inline=len(body) <= INLINE_BODY_BYTES)
        call.rows_ok, call.rows_skipped = rows
        return _binary_or_json(body_out, headers)

    def _infer(self, model: str, version: str, body: bytes, header_length: str | None):
        request, binary = _split_body(body, header_length)
        request = _object(request, "request body")
        inputs = _list(request, "inputs", required=True)
        tensors, raw = _input_tensors(inputs, binary)
        binary_default = _bool_parameter(_dict(request, "parameters"), "binary_data_output", "parameters")
        wanted, binary_outputs = None, {}
        requested = _list(request, "outputs")
        if requested:
            wanted = []
            for i, out in enumerate(requested):
                out = _object(out, f"outputs[{i}]")
                name = out.get("name")
                if not isinstance(name, str) or not name:
                    raise field_error(f"outputs[{i}].name", "the name of an output", _shown(name))
                binary = _bool_parameter(_dict(out, "parameters", f"outputs[{i}]"), "binary_data",
                                         f"outputs[{i}].parameters")
                wanted.append(name)
                binary_outputs[name] = binary_default if binary is None else binary
        result = self.inference.infer(model, version, tensors, raw, wanted)
        response = {"model_name": model, "model_version": result.model_version}
        request_id = request.get("id")
        if isinstance(request_id, str) and request_id:
            response["id"] = request_id
        if result.parameters:
            response["parameters"] = result.parameters
        outputs, parts = [], []
        for tensor in result.outputs:
            out = {"name": tensor.name, "datatype": tensor.datatype, "shape": tensor.shape}
            if binary_outputs.get(tensor.name, binary_default):
                data = tensor_raw(tensor.datatype, tensor.data)
                out["parameters"] = {"binary_data_size": len(data)}
                parts.append(data)
            else:
                out["data"] = _json_data(tensor.datatype, tensor.data)
            outputs.append(out)
        response["outputs"] = outputs
        header = json.dumps(response, separators=(",", ":")).encode()
        body_out = header + b"".join(parts) if parts else header
        self.inference.check_answer_size(len(body_out))
        n = result.outputs[0].shape[0] if result.outputs else 0
        skipped = result.skipped_count
        return body_out, ({HEADER_LENGTH: str(len(header))} if parts else None), (n - skipped, skipped)

    # --- the repository extension ------------------------------------------------------------

    async def repository_index(self, call: Call):
        request = _optional_json(await call.body())
        ready = _bool_field(request, "ready") or False
        entries = await call.run(self.repository.index, _text_field(request, "repository_name"), ready)
        return json_response([{"name": e.name, "version": e.version, "state": e.state, "reason": e.reason}
                              for e in entries])

    async def repository_load(self, call: Call, model: str):
        check_admin(call, "RepositoryModelLoad")
        request = _optional_json(await call.body())
        parameters = _parameters(_dict(request, "parameters"))
        await call.run(self.repository.load, _text_field(request, "repository_name"), model, parameters)
        return json_response({})

    async def repository_unload(self, call: Call, model: str):
        check_admin(call, "RepositoryModelUnload")
        request = _optional_json(await call.body())
        parameters = _parameters(_dict(request, "parameters"))
        await call.run(self.repository.unload, _text_field(request, "repository_name"), model, parameters)
        return json_response({})


def _binary_or_json(body: bytes, headers):
    from aiohttp import web

    return web.Response(body=body, headers=headers,
                        content_type="application/octet-stream" if headers else "application/json")


# --- reading requests ------------------------------------------------------------------------------

class _Tensor:
    """An input tensor as server/tensors.py reads one (its data comes as raw bytes)."""

    __slots__ = ("name", "datatype", "shape", "contents")

    def __init__(self, name: str, datatype: str, shape: list[int]):
        self.name, self.datatype, self.shape, self.contents = name, datatype, shape, None


def _split_body(body: bytes, header_length: str | None) -> tuple[object, bytes]:
    """(the JSON part parsed, the binary part) of an infer body."""
    if header_length is None:
        json_part, binary = body, b""
    else:
        try:
            length = int(header_length)
        except ValueError:
            length = -1
        if not 0 <= length <= len(body):
            raise field_error(f"header {HEADER_LENGTH!r}", f"the JSON part's length, 0 to {len(body)} (the body's "
                              "length)", repr(header_length[:40]))
        json_part, binary = body[:length], body[length:]
    return parse_json(json_part, "request body" if header_length is None
                      else f"request body (its first {len(json_part)} bytes)", field_error, "a JSON object"), binary


def _optional_json(body: bytes) -> dict:
    if not body.strip():
        return {}
    return _object(parse_json(body, "request body", field_error, "a JSON object"), "request body")


def _shown(value) -> str:
    text = json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."


_JSON_TYPE = {dict: "an object", list: "a list", str: "a string", bool: "a boolean", int: "an integer",
              float: "a number", type(None): "null"}


def _kind(value) -> str:
    return _JSON_TYPE.get(type(value), type(value).__name__)


def _object(value, where: str) -> dict:
    if not isinstance(value, dict):
        raise field_error(where, "a JSON object", _kind(value))
    return value


def _dict(obj: dict, key: str, where: str = "") -> dict:
    value = obj.get(key)
    if value is None:
        return {}
    return _object(value, f"{where}.{key}" if where else key)


def _list(obj: dict, key: str, required: bool = False) -> list:
    value = obj.get(key)
    if value is None and not required:
        return []
    if not isinstance(value, list) or (required and not value):
        raise field_error(key, "a list of tensors" if key == "inputs" else "a list",
                          "no inputs" if value is None or value == [] else _kind(value))
    return value


def _bool_parameter(parameters: dict, key: str, where: str) -> bool | None:
    value = parameters.get(key)
    if value is not None and not isinstance(value, bool):
        raise field_error(f"{where}.{key}", "true or false", _shown(value))
    return value


def _bool_field(obj: dict, key: str) -> bool | None:
    return _bool_parameter(obj, key, "request body")


def _text_field(obj: dict, key: str) -> str:
    value = obj.get(key, "")
    if not isinstance(value, str):
        raise field_error(key, "a string", _kind(value))
    return value


_PARAMETER_KIND = {str: "string_param", bool: "bool_param", int: "int64_param", float: "double_param"}


def _parameters(parameters: dict) -> dict[str, tuple[str, object]]:
    """JSON parameters as {key: (InferParameter choice, value)}."""
    out = {}
    for key, value in parameters.items():
        kind = _PARAMETER_KIND.get(type(value))
        if kind is None:
            raise field_error(f"parameters[{key!r}]", "a string, a boolean or a number", _kind(value))
        out[key] = (kind, value)
    return out


def _input_tensors(inputs: list, binary: bytes) -> tuple[list[_Tensor], list[bytes]]:
    """The inputs as tensors and, for each, its raw contents (JSON data made raw here, binary data
    cut from the body's binary part)."""
    tensors, raw = [], []
    offset = 0
    for i, item in enumerate(inputs):
        where = f"inputs[{i}]"
        item = _object(item, where)
        name = item.get("name")
        if not isinstance(name, str) or not name:
            raise field_error(f"{where}.name", "the name of an input", _shown(name))
        datatype = item.get("datatype")
        if datatype not in DATATYPES:
            raise InvalidInput(name, "a datatype among " + ", ".join(DATATYPES), _shown(datatype))
        shape = item.get("shape")
        if not isinstance(shape, list) or not all(type(d) is int for d in shape):
            raise InvalidInput(name, "a shape: a list of integers", _shown(shape))
        tensor = _Tensor(name, datatype, shape)
        parameters = _dict(item, "parameters", where)
        size = parameters.get("binary_data_size")
        if size is not None:
            if type(size) is not int or size < 0:
                raise field_error(f"{where}.parameters.binary_data_size", "a byte count (an integer >= 0)",
                                  _shown(size))
            if "data" in item:
                raise field_error(f"{where}.data", "no data: the input's binary_data_size says its data is binary",
                                  "both")
            if offset + size > len(binary):
                raise field_error(f"{where}.parameters.binary_data_size",
                                  f"at most {len(binary) - offset} bytes (what the body holds after the JSON "
                                  "part and the inputs before)", str(size))
            raw.append(binary[offset:offset + size])
            offset += size
        else:
            if "data" not in item:
                raise field_error(f"{where}.data", "the tensor's data (or binary_data_size)", "no data")
            raw.append(_raw_of_json(tensor, item["data"]))
        tensors.append(tensor)
    if offset != len(binary):
        raise field_error("binary data", f"{offset} bytes after the JSON part (the inputs' binary_data_size in all)",
                          f"{len(binary)} bytes")
    return tensors, raw


def _flat(data, name: str) -> list:
    if not isinstance(data, list):
        return [data]
    if not any(isinstance(v, list) for v in data):
        return data
    out = []
    stack = [iter(data)]
    while stack:
        for v in stack[-1]:
            if isinstance(v, list):
                stack.append(iter(v))
                break
            out.append(v)
        else:
            stack.pop()
    return out


_ALLOWED_TYPES = {"b": {bool}, "i": {int}, "u": {int}, "f": {int, float}}


def _raw_of_json(tensor: _Tensor, data) -> bytes:
    """JSON data as the raw contents of its datatype, each element checked against it."""
    name, datatype = tensor.name, tensor.datatype
    values = _flat(data, name)
    count = math.prod(tensor.shape) if tensor.shape and all(d >= 0 for d in tensor.shape) else None
    if count is not None and len(values) != count:
        raise InvalidInput(name, f"{count} elements for shape {tensor.shape}", f"{len(values)}")
    if datatype == "BYTES":
        bad = next((i for i, v in enumerate(values) if not isinstance(v, str)), None)
        if bad is not None:
            raise InvalidInput(name, "BYTES data as strings", f"{_kind(values[bad])} {_shown(values[bad])} "
                               f"(element {bad})")
        return serialize_bytes([v.encode("utf-8", "surrogatepass") for v in values])
    dtype = NUMPY_OF_DATATYPE[datatype]
    allowed = _ALLOWED_TYPES[dtype.kind]
    if not set(map(type, values)) <= allowed:
        bad = next(i for i, v in enumerate(values) if type(v) not in allowed)
        what = {"b": "true or false", "f": "numbers"}.get(dtype.kind, "integers")
        raise InvalidInput(name, f"{datatype} data ({what})", f"{_kind(values[bad])} {_shown(values[bad])} "
                           f"(element {bad})")
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        bad = next((i for i, v in enumerate(values) if not info.min <= v <= info.max), None)
        if bad is not None:
            raise InvalidInput(name, f"{datatype} values ({info.min} to {info.max})", f"{values[bad]} (element {bad})")
    return tensor_raw(datatype, np.array(values, dtype=dtype))


def _json_data(datatype: str, data) -> list:
    if datatype == "BYTES":
        return [b.decode("utf-8", "replace") for b in data]
    return np.asarray(data).reshape(-1).tolist()
