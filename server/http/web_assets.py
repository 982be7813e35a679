"""The pages a browser opens: the playground (at / and /playground) and the API docs' scripts and
styles. Everything is served from the installed packages, never from a CDN, so that the pages
work on an air-gapped install: the playground and the Scalar bundle live in server/http/web/,
Swagger UI comes from the pinned `swagger-ui-bundle-v2` package."""

from __future__ import annotations

from pathlib import Path

from litestar import MediaType, Request, Response, Router, get
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.plugins import OpenAPIRenderPlugin, ScalarRenderPlugin, SwaggerRenderPlugin
from litestar.static_files import create_static_files_router
from swagger_ui_bundle import swagger_ui_path

WEB_DIR = Path(__file__).parent / "web"
PLAYGROUND_DIR = WEB_DIR / "playground"
FAVICON = "<link rel='icon' type='image/svg+xml' href='/static/playground/favicon.svg'>"


@get(["/", "/playground"], include_in_schema=False, sync_to_thread=False)
def playground_page(request: Request) -> Response[bytes]:
    # Asset links in the page are relative ("static/..."), so / and /playground load the same files,
    # behind a path prefix too. Routing also matches "/playground/", where they would miss: send the
    # browser to the slash-less page with a relative Location, which keeps any prefix.
    if (request.scope.get("raw_path") or b"").endswith(b"/playground/"):  # url.path has lost the slash
        return Response(b"", status_code=308, headers={"Location": "../playground"})
    return Response((PLAYGROUND_DIR / "index.html").read_bytes(), media_type=MediaType.HTML)


def _static(path: str, directory: Path) -> Router:
    return create_static_files_router(path, [directory], include_in_schema=False, send_as_attachment=False)


def web_routes() -> list[HTTPRouteHandler | Router]:
    return [
        playground_page,
        _static("/static/playground", PLAYGROUND_DIR),
        _static("/static/scalar", WEB_DIR / "scalar"),
        _static("/static/swagger-ui", Path(str(swagger_ui_path))),
    ]


def docs_render_plugins() -> list[OpenAPIRenderPlugin]:
    swagger = "/static/swagger-ui"
    return [
        ScalarRenderPlugin(
            js_url="/static/scalar/standalone.js",
            css_url="/static/scalar/theme.css",
            favicon=FAVICON,
            # Nothing that calls Scalar's own services: their web fonts, telemetry, the AI agent and
            # the developer toolbar (share/deploy) would each reach out of an air-gapped network.
            options={
                "withDefaultFonts": False,
                "telemetry": False,
                "agent": {"disabled": True},
                "showDeveloperTools": "never",
            },
        ),
        SwaggerRenderPlugin(
            path="/swagger",
            js_url=f"{swagger}/swagger-ui-bundle.js",
            css_url=f"{swagger}/swagger-ui.css",
            standalone_preset_js_url=f"{swagger}/swagger-ui-standalone-preset.js",
            favicon=FAVICON,
        ),
    ]
