"""inference.GRPCInferenceService: the Open Inference Protocol (KServe v2) over the same models.

Tabular convention: one input tensor per pipeline input field ([n] or [n, 1]; [n, d] for vectors),
one output tensor per output field. Answers use raw_output_contents when the request used
raw_input_contents (as tritonclient does), typed contents otherwise. Rows Spark would drop keep
their place: their outputs are placeholders (NaN, 0 or empty) and the response parameter
``skipped_rows`` lists them ("3,17"). Any invalid row fails the call (INVALID_ARGUMENT naming the
row and field): the protocol has no per-row status.

Importing this module registers the ``inference`` protobuf package; a process that also imports
another copy of it (tritonclient's) cannot import both.
"""

from __future__ import annotations

from importlib import metadata

import numpy as np

from leapserve.oip import inference_pb2 as pb
from leapserve.oip import inference_pb2_grpc as pb_grpc

from leapserve.runtime.errors import InvalidInput, MissingInput

from ..errors import BadRequest, LimitExceeded, ModelUnavailable
from ..registry import Registry, version_key
from ..tensors import (datatype_of, fill_contents, input_column, output_size, output_tensor, tensor_nbytes, tensor_raw,
                       tensor_shape)
from .common import check_deadline, failure_of

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["GRPCInferenceService"].full_name
PLATFORM = "leapserve_bundleml"


def _server_version() -> str:
    try:
        return metadata.version("leapserve")
    except metadata.PackageNotFoundError:
        return "0"


class InferenceService(pb_grpc.GRPCInferenceServiceServicer):
    def __init__(self, registry: Registry, *, max_batch_rows: int = 100_000,
                 max_response_bytes: int = 64 * 1024 * 1024):
        self.registry = registry
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
        return pb.ServerMetadataResponse(name="leapserve", version=self.version, extensions=[])

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
            raise MissingInput(*absent[0], missing=absent, sent=[t.name for t in request.inputs])
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


def _known_bytes(sizes: dict, names: list[str]) -> int:
    return sum(sizes[name][2] or 0 for name in names)


def _final_outputs(pipeline) -> set[str]:
    """The columns the pipeline adds that no later stage reads (its results, not its intermediates)."""
    read = {col for stage in pipeline.stages for _, col, _ in stage.inputs}
    final = {name for name in pipeline.outputs if name not in read}
    return final or set(pipeline.outputs)


__all__ = ["InferenceService", "SERVICE_NAME"]
