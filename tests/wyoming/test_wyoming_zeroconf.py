"""wyoming.zeroconf: the listener announces itself over mDNS as Home Assistant expects
(`_wyoming._tcp.local.`), found here by zeroconf's own browser on the loopback interface."""

from __future__ import annotations

import uuid

import pytest

from tests.conftest import wait_for
from tests.support.processes import WyomingProcess, project_env

pytestmark = pytest.mark.slow
zeroconf = pytest.importorskip("zeroconf", reason="the optional zeroconf extra is not installed")


class Found(zeroconf.ServiceListener):
    def __init__(self) -> None:
        self.services: dict[str, zeroconf.ServiceInfo | None] = {}
        self.removed: set[str] = set()

    def add_service(self, zc, type_, name) -> None:
        self.services[name] = zc.get_service_info(type_, name)

    def update_service(self, zc, type_, name) -> None:
        pass

    def remove_service(self, zc, type_, name) -> None:
        self.removed.add(name)


def test_the_listener_is_announced_for_home_assistant_discovery_and_withdrawn_at_stop(tmp_path):
    env = project_env(
        VOICE_API_STORAGE__DATA_DIR=str(tmp_path / "data"),
        VOICE_API_WYOMING__ZEROCONF="true",
        VOICE_API_WYOMING__ZEROCONF_NAME=f"voice-api-test-{uuid.uuid4().hex[:8]}",
    )
    server = WyomingProcess(env, tmp_path / "wyoming.log")
    browser_zc = zeroconf.Zeroconf(interfaces=["127.0.0.1"])
    try:
        server.wait_ready()
        found = Found()
        zeroconf.ServiceBrowser(browser_zc, "_wyoming._tcp.local.", found)
        name = f"{env['VOICE_API_WYOMING__ZEROCONF_NAME']}._wyoming._tcp.local."
        info = wait_for(lambda: found.services.get(name), timeout=30, interval=0.2)
        assert info.port == server.port and b"\x7f\x00\x00\x01" in info.addresses
        server.stop()  # SIGTERM: the listener says goodbye, so the network forgets it at once
        wait_for(lambda: name in found.removed, timeout=30, interval=0.2)
    finally:
        browser_zc.close()
        server.stop()
