"""leapserve.v1.ModelService: LoadModel / UnloadModel (served only with --admin).

Bundles load only from paths inside the model directory or the configured admin paths (symbolic
links resolved first), so a client cannot make the server read arbitrary files.
"""

from __future__ import annotations

from leapserve.v1 import model_service_pb2 as pb
from leapserve.v1 import model_service_pb2_grpc as pb_grpc

from ..registry import Registry
from .common import failure_of
from .prediction import fill_version_info

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["ModelService"].full_name


class ModelService(pb_grpc.ModelServiceServicer):
    def __init__(self, registry: Registry):
        self.registry = registry

    def LoadModel(self, request, context):
        try:
            info = self.registry.admin_load(request.model, request.version, request.path)
            response = pb.LoadModelResponse(model=request.model)
            fill_version_info(response.version, info)
            return response
        except Exception as e:
            failure = failure_of(e, "", context, "LoadModel")
        failure.abort(context)

    def UnloadModel(self, request, context):
        try:
            versions = self.registry.admin_unload(request.model, request.version)
            return pb.UnloadModelResponse(model=request.model, versions=versions)
        except Exception as e:
            failure = failure_of(e, "", context, "UnloadModel")
        failure.abort(context)
