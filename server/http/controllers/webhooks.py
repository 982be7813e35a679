"""/v1/webhooks/secret: a new signing secret for the calling key's webhooks, shown once."""

from __future__ import annotations

from anyio import to_thread
from litestar import post
from litestar.di import NamedDependency

from server.auth.caller import LOCAL_OWNER, Caller
from server.services.container import Services


@post("/webhooks/secret", status_code=201, tags=["webhooks"], summary="Rotate your key's webhook secret")
async def rotate_webhook_secret(caller: NamedDependency[Caller], services: NamedDependency[Services]) -> dict[str, str]:
    """Deliveries are signed with the new secret from now on (Standard Webhooks, `whsec_…`); the old
    one stops verifying at once. Keep it like the key itself: it is not shown again."""
    secret = await to_thread.run_sync(services.webhook_secrets.rotate, caller.key_id or LOCAL_OWNER)
    return {"secret": secret}
