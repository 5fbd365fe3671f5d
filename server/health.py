"""grpc.health.v1.Health for grpc.aio: Check and Watch on the event loop.

grpcio-health-checking's async servicer keeps one condition per service and drops it when any one
Watch of that service ends: the other watchers of the service then wait on a condition no one
notifies, and never hear a change again (shutdown's NOT_SERVING included). Here every Watch has an
event of its own, set on each change of its service.
"""

from __future__ import annotations

import asyncio

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
SERVICE_UNKNOWN = health_pb2.HealthCheckResponse.SERVICE_UNKNOWN


class HealthServicer(health_pb2_grpc.HealthServicer):
    """Statuses by service name ("" is SERVING from the start). set() and enter_graceful_shutdown()
    are coroutines to run on the server's event loop; after enter_graceful_shutdown() every service
    is NOT_SERVING for good."""

    def __init__(self) -> None:
        self._status: dict[str, int] = {"": SERVING}
        self._watchers: dict[str, set[asyncio.Event]] = {}  # service -> an event per open Watch
        self._shutting_down = False

    async def Check(self, request, context):
        status = self._status.get(request.service)
        if status is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"unknown service {request.service!r}")
        return health_pb2.HealthCheckResponse(status=status)

    async def Watch(self, request, context):
        service = request.service
        changed = asyncio.Event()
        watchers = self._watchers.setdefault(service, set())
        watchers.add(changed)
        try:
            sent = None
            while True:
                changed.clear()  # before reading: a change during the write below is not missed
                status = self._status.get(service, SERVICE_UNKNOWN)
                if status != sent:
                    await context.write(health_pb2.HealthCheckResponse(status=status))
                    sent = status
                await changed.wait()
        finally:
            watchers.discard(changed)
            if not watchers and self._watchers.get(service) is watchers:
                del self._watchers[service]  # names clients watched are not kept after they leave

    def _set(self, service: str, status: int) -> None:
        self._status[service] = status
        for changed in self._watchers.get(service, ()):
            changed.set()

    async def set(self, service: str, status: int) -> None:
        if not self._shutting_down:
            self._set(service, status)

    async def enter_graceful_shutdown(self) -> None:
        self._shutting_down = True
        for service in list(self._status):
            self._set(service, NOT_SERVING)
