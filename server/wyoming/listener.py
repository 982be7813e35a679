"""The Wyoming listener over shared services: on its own (`voice-api wyoming`) or beside the HTTP
API (`voice-api serve` with wyoming.enabled), where it uses the same workers and model cache."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import signal
from collections.abc import AsyncIterator
from functools import partial
from urllib.parse import urlparse

from wyoming.server import AsyncServer, AsyncTcpServer

from server.services.container import Services, build_services, running
from server.settings import Settings, WyomingSettings
from server.wyoming.context import WyomingContext
from server.wyoming.discovery import announced
from server.wyoming.handler import VoiceApiHandler

log = logging.getLogger(__name__)


def make_server(uri: str) -> AsyncServer:
    scheme = urlparse(uri).scheme
    if scheme not in ("tcp", "unix"):
        raise ValueError(f"wyoming uri must be tcp://HOST:PORT or unix://PATH, not {uri!r}")
    return AsyncServer.from_uri(uri)


@contextlib.asynccontextmanager
async def listening(services: Services) -> AsyncIterator[AsyncServer]:
    """Accept Wyoming connections until the block ends. The services must be running."""
    settings = services.settings.wyoming
    ctx = WyomingContext.build(services)  # a bad wyoming.plan fails here, at start
    server = make_server(settings.uri)
    await server.start(partial(VoiceApiHandler, ctx))
    log.info("Wyoming listening on %s as owner %r (no authentication)", settings.uri, ctx.caller.owner)
    if isinstance(server, AsyncTcpServer) and not _loopback(server.host):
        log.warning(
            "Wyoming has no authentication and %s is not a loopback address: anyone who can reach it "
            "uses this server as %r. Restrict it to trusted hosts (a firewall rule for Home Assistant).",
            server.host,
            ctx.caller.owner,
        )
    try:
        async with _announced(server, settings):
            yield server
    finally:
        await server.stop()


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


@contextlib.asynccontextmanager
async def _announced(server: AsyncServer, settings: WyomingSettings) -> AsyncIterator[None]:
    if not settings.zeroconf:
        yield
        return
    if not isinstance(server, AsyncTcpServer):
        raise ValueError("wyoming.zeroconf needs a tcp:// uri")
    async with announced(server.host, server.port, settings.zeroconf_name):
        log.info("Wyoming announced over zeroconf on port %s", server.port)
        yield


async def serve_wyoming(settings: Settings) -> None:
    """`voice-api wyoming`: the services and the listener in this process, until SIGTERM or SIGINT."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    services = build_services(settings)
    async with running(services), listening(services):
        await stop.wait()
    log.info("Wyoming listener stopped")
