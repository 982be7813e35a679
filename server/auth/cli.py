"""`voice-api keys ...`: manage API keys in the store the server itself uses (SQLite or Redis)."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime

import click

from server.auth.keys import ApiKey, KeyStore, open_key_store
from server.auth.plans import AuthSettings
from server.auth.webhook_secrets import open_webhook_secrets
from server.settings import Settings


def _open() -> tuple[KeyStore, AuthSettings]:
    settings = Settings()
    # `auth` exists once the section is mounted on the Settings root; until then, the defaults apply.
    auth = getattr(settings, "auth", None) or AuthSettings()
    return open_key_store(settings), auth


def _known_plan(auth: AuthSettings, plan: str) -> str:
    if plan not in auth.plans:
        raise click.BadParameter(f"unknown plan {plan!r}; configured: {', '.join(sorted(auth.plans))}")
    return plan


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "-"


@click.group()
def keys() -> None:
    """Create, list and revoke API keys."""


@keys.command()
@click.option("--owner", required=True, help="Who the key belongs to; tasks and quotas are counted per owner.")
@click.option("--plan", default=None, help="Plan name (default: auth.default_plan).")
def create(owner: str, plan: str | None) -> None:
    """Create a key and print it. It is shown this once: only its hash is stored."""
    store, auth = _open()
    plan = _known_plan(auth, plan or auth.default_plan)
    if not owner.strip():
        raise click.BadParameter("must not be empty", param_hint="--owner")
    key, plaintext = store.create(owner.strip(), plan)
    click.echo(f"Created key {key.key_id} for {key.owner} on plan {key.plan}.")
    click.echo(f"API key: {plaintext}")
    click.echo(f"Webhook secret: {open_webhook_secrets(Settings()).rotate(key.key_id)}")
    click.echo("Copy them now: they cannot be shown again. Lost keys are revoked and replaced.", err=True)


@keys.command(name="webhook-secret")
@click.argument("key_id")
def webhook_secret(key_id: str) -> None:
    """Make a new webhook signing secret for a key (the old one stops working at once) and print it."""
    store, _ = _open()
    if store.get(key_id) is None:
        raise click.BadParameter(f"no key {key_id!r}", param_hint="KEY_ID")
    click.echo(f"Webhook secret: {open_webhook_secrets(Settings()).rotate(key_id)}")


@keys.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per key, for scripts.")
def list_keys(as_json: bool) -> None:
    """List keys, revoked ones included. Secrets are never stored, so never shown."""
    store, _ = _open()
    rows = store.list()
    if as_json:
        for key in rows:
            click.echo(json.dumps(asdict(key) | {"active": key.active}, default=datetime.isoformat))
        return
    if not rows:
        click.echo("No keys yet: voice-api keys create --owner NAME")
        return
    line = "{:<16}  {:<20}  {:<8}  {:<16}  {:<16}  {}"
    click.echo(line.format("KEY ID", "OWNER", "PLAN", "CREATED (UTC)", "LAST USED", "STATUS"))
    for key in rows:
        status = "active" if key.active else f"revoked {_when(key.revoked_at)}"
        click.echo(line.format(key.key_id, key.owner, key.plan, _when(key.created_at), _when(key.last_used_at), status))


def _require(store: KeyStore, key_id: str) -> ApiKey:
    key = store.get(key_id)
    if key is None:
        raise click.ClickException(f"no key {key_id}")
    if not key.active:
        raise click.ClickException(f"key {key_id} is already revoked")
    return key


@keys.command()
@click.argument("key_id")
def revoke(key_id: str) -> None:
    """Revoke a key; requests with it are refused from now on."""
    store, _ = _open()
    key = _require(store, key_id)
    if not store.revoke(key_id):
        raise click.ClickException(f"key {key_id} is already revoked")
    click.echo(f"Revoked key {key_id} of {key.owner}.")


@keys.command(name="set-plan")
@click.argument("key_id")
@click.argument("plan")
def set_plan(key_id: str, plan: str) -> None:
    """Move a key to another plan; limits change on its next request."""
    store, auth = _open()
    _known_plan(auth, plan)
    key = _require(store, key_id)
    if not store.set_plan(key_id, plan):
        raise click.ClickException(f"key {key_id} is already revoked")
    click.echo(f"Key {key_id} of {key.owner}: plan {key.plan} -> {plan}.")
