"""voice-api: serve (API + embedded workers, or API only when Redis is configured), worker, wyoming, keys, models,
speakers, and the HTTP client's commands (transcribe, say, clone, voices, tasks: server/client/)."""

from __future__ import annotations

import logging
import os

import click

from server.auth.cli import keys
from server.cli_models import models
from server.cli_speakers import speakers
from server.client.commands import CLIENT_COMMANDS
from server.settings import Settings

log = logging.getLogger("voice_api")


def _configure_logging(level: str) -> None:
    from server.logging_setup import configure

    configure(level, Settings().log_format)


@click.group()
@click.option("--log-level", default="info", show_default=True)
def main(log_level: str) -> None:
    """Voice API: self-hosted speech-to-text, text-to-speech and voice cloning."""
    _configure_logging(log_level)
    # pyannote.audio 4 sends telemetry by default; an on-prem server must not phone home.
    os.environ.setdefault("PYANNOTE_METRICS_ENABLED", "false")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")


@main.command()
@click.option("--host", default=None, help="Bind address (default: settings api.host)")
@click.option("--port", default=None, type=int, help="Port (default: settings api.port)")
def serve(host: str | None, port: int | None) -> None:
    """Start the HTTP API. Without VOICE_API_REDIS_URL it also runs the workers in-process."""
    import uvicorn

    from server.http.app import create_app

    settings = Settings()
    _ensure_admin_key(settings)
    listeners = []
    if settings.wyoming.enabled:
        from server.wyoming.listener import listening

        listeners.append(listening)
    app = create_app(settings, listeners=listeners)
    mode = "distributed (Redis)" if settings.distributed else "embedded (single process)"
    log.info("voice-api %s mode, data dir %s", mode, settings.storage.data_dir.resolve())
    _freeze_startup_objects()
    uvicorn.run(
        app,
        host=host or settings.api.host,
        port=port or settings.api.port,
        log_level="warning",
        timeout_graceful_shutdown=10,
    )


@main.command()
@click.option("--uri", default=None, help="tcp://HOST:PORT or unix://PATH (default: settings wyoming.uri)")
def wyoming(uri: str | None) -> None:
    """Serve speech-to-text and text-to-speech over the Wyoming protocol (Home Assistant).

    Wyoming has no authentication: every connection acts as wyoming.owner with wyoming.plan's
    limits, so bind to 127.0.0.1 (the default) or a network you trust."""
    import asyncio

    from server.wyoming.listener import make_server, serve_wyoming

    settings = Settings()
    if uri is not None:
        try:
            make_server(uri)  # validates the scheme before anything starts
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--uri") from exc
        settings = settings.model_copy(update={"wyoming": settings.wyoming.model_copy(update={"uri": uri})})
    mode = "distributed (Redis)" if settings.distributed else "embedded (single process)"
    log.info("voice-api wyoming, %s mode, data dir %s", mode, settings.storage.data_dir.resolve())
    asyncio.run(serve_wyoming(settings))


def _freeze_startup_objects() -> None:
    """Keep what exists at startup (modules, the app, its services: ~130,000 objects) out of every
    later garbage collection. Under load, requests in flight survive the young collections often
    enough that CPython ran a full one every second or two, and each walked all of those objects:
    100-300 ms with the event loop stopped on a shared machine, the tail of the status-poll p99
    (docs/benchmarks.md, issue 19). Frozen, a full collection walks only what came later."""
    import gc

    gc.collect()
    gc.freeze()


def _ensure_admin_key(settings: Settings) -> None:
    """First start with authentication on and no key: create an admin key and show it once.
    It goes to the terminal, never to the log (logs must not contain keys)."""
    if not settings.auth.enabled:
        log.warning(
            "AUTHENTICATION IS DISABLED (VOICE_API_AUTH__ENABLED=false): anyone who can reach this "
            "server can use it. Use this only for local development."
        )
        return
    from server.auth.keys import open_key_store

    store = open_key_store(settings)
    if store.count() == 0:
        key, plaintext = store.create(owner="admin", plan="admin")
        click.echo(
            f"\nNo API keys existed, so an admin key was created (key id {key.key_id}).\n"
            f"It is shown only this once; store it now:\n\n    {plaintext}\n\n"
            "Create keys for your teams with: voice-api keys create --owner TEAM --plan pro\n",
            err=True,
        )


@main.command()
@click.option(
    "--queues",
    "-Q",
    default="stt,tts,clone,speaker",
    show_default=True,
    help="Comma-separated queues this worker consumes (a GPU box may serve only some)",
)
@click.option(
    "--concurrency", "-c", default=1, show_default=True, type=int, help="Worker processes; each loads its own models"
)
@click.option("--name", "-n", default="voice@%h", show_default=True)
@click.option(
    "--lane",
    type=click.Choice(["all", "interactive"]),
    default="all",
    show_default=True,
    help="all: interactive queues first, then batch; interactive: only the interactive lane",
)
def worker(queues: str, concurrency: int, name: str, lane: str) -> None:
    """Run a Celery worker for the distributed mode (needs VOICE_API_REDIS_URL)."""
    from server.dispatch.celery_app import RUN_TASK, create_celery, publish_options, worker_queues
    from server.dispatch.heartbeat import start_heartbeat
    from server.dispatch.interactive import start_interactive_companion
    from server.domain.factory import open_task_leases, open_task_store, redis_client
    from server.domain.leases import requeue_orphans
    from server.domain.tasks import TaskKind, TaskLane
    from server.worker.engines import describe
    from server.worker.priority import lower_process_priority

    settings = Settings()
    if not settings.redis_url:
        raise click.UsageError("set VOICE_API_REDIS_URL to run a distributed worker")
    # First, so that every thread and pool process started below inherits it.
    applied = lower_process_priority(settings.worker.niceness)
    log.info("worker niceness %s, autogroup niceness %s", applied.niceness, applied.autogroup_niceness)
    kinds = [q.strip() for q in queues.split(",") if q.strip()]
    try:
        kinds = [TaskKind(kind).value for kind in kinds]
    except ValueError as exc:
        raise click.BadParameter(f"queues are stt, tts, clone and speaker: {exc}") from exc
    lanes = (TaskLane.INTERACTIVE,) if lane == "interactive" else (TaskLane.INTERACTIVE, TaskLane.BATCH)
    queue_list = worker_queues(settings, kinds, lanes)
    app = create_celery(settings)
    store, leases = open_task_store(settings), open_task_leases(settings)

    def publish(task) -> None:
        app.send_task(RUN_TASK, args=[task.id], **publish_options(settings, task))

    if lane == "all":
        # Webhooks are sent from the worker side, by one thread in this (main) process.
        from server.auth.webhook_secrets import open_webhook_secrets
        from server.domain.factory import open_webhook_queue
        from server.worker.webhooks import WebhookDeliverer

        WebhookDeliverer(settings, store, open_webhook_queue(settings), open_webhook_secrets(settings)).start()
        # A process of its own for the interactive lane, so a short request never waits for this
        # worker's long task to end; it stops with this worker.
        start_interactive_companion(settings, kinds, name)
        start_heartbeat(
            redis_client(settings.redis_url),
            settings.redis_prefix,
            kinds,
            describe(settings),
            settings.worker.heartbeat_s,
            housekeeping=lambda: requeue_orphans(store, leases, publish, grace_s=settings.worker.lease_ttl_s),
        )
    app.worker_main(
        [
            "worker",
            "--queues",
            ",".join(queue_list),
            "--concurrency",
            str(concurrency),
            "--hostname",
            name,
            "--loglevel",
            logging.getLevelName(logging.getLogger().level),
            "--pool",
            "prefork",
            "--without-gossip",
            "--without-mingle",
        ]
    )


main.add_command(keys)
main.add_command(models)
main.add_command(speakers)
for command in CLIENT_COMMANDS:
    main.add_command(command)

if __name__ == "__main__":
    main()
