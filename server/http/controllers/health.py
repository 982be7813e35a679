"""/v1/health: public, for load balancers and Kubernetes probes."""

from __future__ import annotations

from litestar import Response, get
from litestar.di import NamedDependency

from server.dispatch.base import merge_engines
from server.http.schemas import HealthResponse
from server.services.container import Services


@get("/health", tags=["health"], summary="Service health (no authentication)")
async def health(services: NamedDependency[Services]) -> Response[HealthResponse]:
    queue = await services.health.current()  # at most MAX_AGE_S old: see server/services/health.py
    engines = merge_engines(queue.workers)
    body = HealthResponse(
        status="ok" if queue.reachable else "unavailable",
        mode=queue.mode,
        queue={"reachable": queue.reachable, "detail": queue.detail, "depths": queue.queue_depths},
        workers=queue.workers,
        engines=engines,
    )
    return Response(body, status_code=200 if queue.reachable else 503)
