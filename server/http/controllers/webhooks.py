"""/v1/webhooks: the calling key's webhook signing secret (rotated, shown once) and its default
callback URL (used by submissions that name no callback_url)."""

from __future__ import annotations

from dataclasses import dataclass

from anyio import to_thread
from litestar import post, put
from litestar.di import NamedDependency

from server.auth.caller import LOCAL_OWNER, Caller
from server.services.callbacks import check_callback_url
from server.services.container import Services


@post("/webhooks/secret", status_code=201, tags=["webhooks"], summary="Rotate your key's webhook secret")
async def rotate_webhook_secret(caller: NamedDependency[Caller], services: NamedDependency[Services]) -> dict[str, str]:
    """Deliveries are signed with the new secret from now on (Standard Webhooks, `whsec_…`); the old
    one stops verifying at once. Keep it like the key itself: it is not shown again."""
    secret = await to_thread.run_sync(services.webhook_secrets.rotate, caller.key_id or LOCAL_OWNER)
    return {"secret": secret}


@dataclass
class WebhookDefault:
    callback_url: str | None
    """Where this key's tasks report their end when a submission names no callback_url; null: none."""


@put("/webhooks/default", tags=["webhooks"], summary="Set (or clear) your key's default callback URL")
async def set_default_callback(
    data: WebhookDefault, caller: NamedDependency[Caller], services: NamedDependency[Services]
) -> WebhookDefault:
    url = data.callback_url
    if url is not None:
        url = check_callback_url(url, services.settings.webhooks)  # refused now, not at each submission
    await to_thread.run_sync(services.webhook_secrets.set_default_url, caller.key_id or LOCAL_OWNER, url)
    return WebhookDefault(callback_url=url)
