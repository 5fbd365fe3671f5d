"""inference.GRPCInferenceService: the Open Inference Protocol (KServe v2) over the same models.

Tabular convention: one input tensor per pipeline input field ([n] or [n, 1]; [n, d] for vectors),
one output tensor per output field. Answers use raw_output_contents when the request used
raw_input_contents (as tritonclient does), typed contents otherwise. Rows Spark would drop keep
their place (response parameter ``skipped_rows``); any invalid row fails the call
(INVALID_ARGUMENT naming the row and field).

The repository extension maps onto the registry (dataplane.Repository says how). RepositoryIndex
is read-only, open to every client as ListModels is. RepositoryModelLoad and RepositoryModelUnload
are leapserve.v1.ModelService's LoadModel / UnloadModel under the same guard: without --admin they
are UNIMPLEMENTED, with --admin-token every call carries the token (UNAUTHENTICATED otherwise).

What is answered (metadata, scoring, the repository) is server/dataplane.py's, shared with the
HTTP port (server/http_oip.py); this module maps messages and errors to and from it.

Importing this module registers the ``inference`` protobuf package; a process that also imports
another copy of it (tritonclient's) cannot import both.
"""

from __future__ import annotations

import grpc

from leapserve.oip import inference_pb2 as pb
from leapserve.oip import inference_pb2_grpc as pb_grpc

from ..dataplane import (EXTENSIONS, SERVER_NAME, Inference, Repository, model_metadata, model_ready,
                         server_version)
from ..registry import Registry
from ..tensors import fill_contents, tensor_raw
from .admin import admin_api_failure
from .common import Failure, check_deadline, failure_of
from .prediction import Placement, request_reader

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["GRPCInferenceService"].full_name


def _records(request) -> int:
    """The rows a ModelInfer scores, as its first input's shape says (placement only: the shapes are
    checked when the call is scored)."""
    shape = request.inputs[0].shape if request.inputs else ()
    return shape[0] if shape and shape[0] > 0 else 1


class InferenceService(pb_grpc.GRPCInferenceServiceServicer):
    """ModelInfer is async (grpc.aio), as Predict is: a fast pipeline is scored on the event loop, a
    slow one (INLINE_SECONDS), a pipeline's first call and a large request (LARGE_REQUEST_BYTES) on
    ``threads`` (services/prediction.py's Placement). The other calls are sync, run by grpc.aio on
    the request threads."""

    def __init__(self, registry: Registry, *, max_batch_rows: int = 100_000,
                 max_response_bytes: int = 64 * 1024 * 1024, admin: bool = False, admin_token: str | None = None,
                 threads=None):
        self.registry = registry
        self.placement = Placement(threads)
        self.admin = admin  # RepositoryModelLoad / RepositoryModelUnload are served only with --admin
        self.admin_token = admin_token or None
        self.inference = Inference(registry, max_batch_rows=max_batch_rows, max_response_bytes=max_response_bytes)
        self.repository = Repository(registry)
        self.version = server_version()

    def ServerLive(self, request, context):
        return pb.ServerLiveResponse(live=True)

    def ServerReady(self, request, context):
        return pb.ServerReadyResponse(ready=self.registry.ready())

    def ModelReady(self, request, context):
        try:
            return pb.ModelReadyResponse(ready=model_ready(self.registry, request.name, request.version))
        except Exception as e:
            failure = failure_of(e, "", context, "ModelReady")
        failure.abort(context)

    def ServerMetadata(self, request, context):
        return pb.ServerMetadataResponse(name=SERVER_NAME, version=self.version, extensions=EXTENSIONS)

    def ModelMetadata(self, request, context):
        try:
            md = model_metadata(self.registry, request.name, request.version)
            response = pb.ModelMetadataResponse(name=md.name, versions=md.versions, platform=md.platform)
            for t in md.inputs:
                response.inputs.add(name=t.name, datatype=t.datatype, shape=t.shape)
            for t in md.outputs:
                response.outputs.add(name=t.name, datatype=t.datatype, shape=t.shape)
            return response
        except Exception as e:
            failure = failure_of(e, "", context, "ModelMetadata")
        failure.abort(context)

    async def ModelInfer(self, request, context):
        try:
            check_deadline(context)
            return await self.placement.score(request, self._resolve, self._infer, _records)
        except Exception as e:
            failure = failure_of(e, request.id, context, "ModelInfer")
        await failure.abort_async(context)

    def _resolve(self, request):
        return self.registry.resolve(request.model_name, request.model_version)

    def _infer(self, request, served):
        raw = request.raw_input_contents
        wanted = [o.name for o in request.outputs] or None
        result = self.inference.infer(request.model_name, request.model_version, request.inputs, raw or None, wanted,
                                      served=served)
        response = pb.ModelInferResponse(model_name=request.model_name, model_version=result.model_version,
                                         id=request.id)
        for tensor in result.outputs:
            out = response.outputs.add(name=tensor.name, datatype=tensor.datatype, shape=tensor.shape)
            if raw:
                response.raw_output_contents.append(tensor_raw(tensor.datatype, tensor.data))
            else:
                fill_contents(out.contents, tensor.datatype, tensor.data)
        for key, value in result.parameters.items():
            response.parameters[key].string_param = value
        # The estimate counted the tensors' data; names, framing, varints of negative integers and
        # skipped_rows come on top, and past grpc's own send limit the client would get its generic
        # error instead of this one.
        self.inference.check_answer_size(response.ByteSize())
        return response

    # --- the repository extension -----------------------------------------------------------

    def RepositoryIndex(self, request, context):
        try:
            response = pb.RepositoryIndexResponse()
            for e in self.repository.index(request.repository_name, request.ready):
                response.models.add(name=e.name, version=e.version, state=e.state, reason=e.reason)
            return response
        except Exception as e:
            failure = failure_of(e, "", context, "RepositoryIndex")
        failure.abort(context)

    def RepositoryModelLoad(self, request, context):
        failure = self._admin_failure(context, "RepositoryModelLoad")
        if failure is None:
            try:
                self.repository.load(request.repository_name, request.model_name, _parameters(request.parameters))
                return pb.RepositoryModelLoadResponse()
            except Exception as e:
                failure = failure_of(e, "", context, "RepositoryModelLoad")
        failure.abort(context)

    def RepositoryModelUnload(self, request, context):
        failure = self._admin_failure(context, "RepositoryModelUnload")
        if failure is None:
            try:
                self.repository.unload(request.repository_name, request.model_name, _parameters(request.parameters))
                return pb.RepositoryModelUnloadResponse()
            except Exception as e:
                failure = failure_of(e, "", context, "RepositoryModelUnload")
        failure.abort(context)

    def _admin_failure(self, context, rpc: str) -> Failure | None:
        return admin_api_failure(self.admin, self.admin_token, context, rpc)


def add_to_server(servicer: InferenceService, server) -> None:
    """Like the generated add_GRPCInferenceServiceServicer_to_server, with ModelInfer's large
    messages handed to the handler unparsed (prediction.request_reader: parsed on a thread)."""
    handlers = {}
    for method in pb.DESCRIPTOR.services_by_name["GRPCInferenceService"].methods:
        request_type, response_type = getattr(pb, method.input_type.name), getattr(pb, method.output_type.name)
        read = request_reader(request_type) if method.name == "ModelInfer" else request_type.FromString
        handlers[method.name] = grpc.unary_unary_rpc_method_handler(
            getattr(servicer, method.name), request_deserializer=read,
            response_serializer=response_type.SerializeToString)
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE_NAME, handlers),))


def _parameters(parameters) -> dict[str, tuple[str, object]]:
    """map<string, InferParameter> as {key: (choice, value)}."""
    out = {}
    for key, param in parameters.items():
        which = param.WhichOneof("parameter_choice")
        out[key] = (which, getattr(param, which) if which else None)
    return out


__all__ = ["InferenceService", "SERVICE_NAME", "add_to_server"]
