"""create_app(settings): the Litestar application, its dependencies and its lifecycle."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager

from litestar import Litestar, Router
from litestar.config.cors import CORSConfig
from litestar.datastructures import State
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig

from server import __version__
from server.http.controllers.clone import CloneController
from server.http.controllers.health import health
from server.http.controllers.metrics import metrics
from server.http.controllers.models import ModelsController
from server.http.controllers.openai_audio import OpenAiAudioController
from server.http.controllers.speakers import SpeakersController
from server.http.controllers.stt import SttController
from server.http.controllers.tasks import list_tasks
from server.http.controllers.tts import TtsController
from server.http.controllers.usage import usage
from server.http.controllers.webhooks import rotate_webhook_secret, set_default_callback
from server.http.errors import EXCEPTION_HANDLERS
from server.http.headers import add_response_headers
from server.http.identity import provide_caller
from server.http.web_assets import docs_render_plugins, web_routes
from server.services.container import Services, build_services, running
from server.settings import Settings


def _provide(value: object) -> Provide:
    return Provide(lambda: value, use_cache=True, sync_to_thread=False)


Listener = Callable[[Services], AbstractAsyncContextManager[object]]


def create_app(settings: Settings, services: Services | None = None, listeners: Sequence[Listener] = ()) -> Litestar:
    """The HTTP front-end over `services` (built from `settings` when not given). `listeners` are
    other front-ends in the same process (the Wyoming listener): each is entered with the shared
    services once they run, and left before they stop. This module knows nothing about them."""
    services = services if services is not None else build_services(settings)

    @contextlib.asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        async with running(services), contextlib.AsyncExitStack() as stack:
            for listener in listeners:
                await stack.enter_async_context(listener(services))
            yield

    v1 = Router(
        path="/v1",
        route_handlers=[
            health,
            usage,
            list_tasks,
            rotate_webhook_secret,
            set_default_callback,
            SttController,
            TtsController,
            CloneController,
            SpeakersController,
            ModelsController,
            OpenAiAudioController,
        ],
    )
    return Litestar(
        route_handlers=[v1, metrics, *web_routes()],
        dependencies={
            # Each controller asks for the one service it uses; health, usage and metrics read several.
            "services": _provide(services),
            "settings": _provide(services.settings),
            "tasks": _provide(services.tasks),
            "submissions": _provide(services.submissions),
            "catalog": _provide(services.catalog),
            "speakers": _provide(services.speakers),
            "caller": Provide(provide_caller),
        },
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=[lifespan],
        state=State({"services": services}),
        before_send=[add_response_headers],
        cors_config=CORSConfig(allow_origins=settings.api.cors_origins) if settings.api.cors_origins else None,
        request_max_body_size=settings.api.max_json_kb * 1024,
        openapi_config=OpenAPIConfig(
            title="Voice API",
            version=__version__,
            description="Self-hosted text-to-speech, speech-to-text and voice cloning.",
            path="/docs",
            render_plugins=docs_render_plugins(),
        ),
    )
