"""Callback URLs: public http(s) only, unless the operator allows a host or network (SSRF)."""

from __future__ import annotations

import pytest

from server.domain.errors import InvalidRequest
from server.services.callbacks import check_callback_url
from server.settings import WebhookSettings


def resolver(table: dict[str, list[str]]):
    def resolve(host: str, port: int) -> list[str]:
        if host not in table:
            raise OSError("no such host")
        return table[host]

    return resolve


DNS = resolver(
    {
        "hooks.example.com": ["93.184.216.34"],
        "localhost": ["127.0.0.1", "::1"],
        "metadata": ["169.254.169.254"],
        "intranet": ["10.1.2.3"],
        "rebound": ["93.184.216.34", "192.168.0.5"],  # one private answer is enough to refuse
    }
)


def code_of(url: str, settings: WebhookSettings | None = None) -> str:
    with pytest.raises(InvalidRequest) as error:
        check_callback_url(url, settings or WebhookSettings(), DNS)
    return error.value.code


def test_public_https_is_accepted():
    assert check_callback_url("https://hooks.example.com/voice", WebhookSettings(), DNS)


@pytest.mark.parametrize("host", ["localhost", "metadata", "intranet", "rebound"])
def test_internal_addresses_are_refused(host):
    assert code_of(f"http://{host}:8080/x") == "callback_url_forbidden"


@pytest.mark.parametrize("literal", ["127.0.0.1", "::1", "10.0.0.1", "169.254.169.254", "0.0.0.0"])
def test_internal_ip_literals_are_refused(literal):
    host = f"[{literal}]" if ":" in literal else literal
    with pytest.raises(InvalidRequest) as error:
        check_callback_url(f"http://{host}/x", WebhookSettings(), lambda h, p: [h])
    assert error.value.code == "callback_url_forbidden" and "ALLOW_HOSTS" in error.value.message


def test_an_operator_may_allow_a_host_or_a_network():
    assert check_callback_url("http://localhost:9/x", WebhookSettings(allow_hosts=["localhost"]), DNS)
    assert check_callback_url("http://intranet/x", WebhookSettings(allow_hosts=["10.0.0.0/8"]), DNS)
    assert code_of("http://metadata/x", WebhookSettings(allow_hosts=["10.0.0.0/8"])) == "callback_url_forbidden"


def test_malformed_or_unresolvable_urls_are_refused():
    assert code_of("ftp://hooks.example.com/x") == "invalid_callback_url"
    assert code_of("/relative/path") == "invalid_callback_url"
    assert code_of("https://nowhere.invalid/x") == "invalid_callback_url"
