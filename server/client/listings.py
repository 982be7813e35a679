"""`voice-api voices | tasks`: the catalog and the caller's tasks, as a table or --json."""

from __future__ import annotations

from typing import Any

import click

from server.client.display import Display, print_table
from server.client.errors import ApiError, ClientError, ExitCode
from server.client.session import Session, client_command, connection_options, print_json

TASK_STATUSES = ("queued", "running", "succeeded", "failed", "canceled")


@click.command()
@click.option("--search", help="Fuzzy title search (typos and partial words match).")
@click.option("--tag", "tags", multiple=True, help="Repeatable; all must match.")
@click.option("--language", "languages", multiple=True, help="Repeatable; all must match.")
@click.option("--mine", is_flag=True, help="Only your own voices.")
@click.option("--sort", type=click.Choice(["score", "task_count", "created_at"]), default="score", show_default=True)
@click.option("--page", type=click.IntRange(1), default=1, show_default=True)
@click.option("--page-size", type=click.IntRange(1, 100), default=20, show_default=True)
@connection_options
@client_command
def voices(session: Session, search, tags, languages, mine, sort, page, page_size):
    """List the voices you can use (built-in and cloned)."""
    params: dict[str, Any] = {"page_size": page_size, "page_number": page, "sort_by": sort}
    if search:
        params["title"] = search
    if tags:
        params["tag"] = list(tags)
    if languages:
        params["language"] = list(languages)
    if mine:
        params["self"] = "true"
    listing = session.client.voices(params)
    if session.as_json:
        print_json(listing)
        return ExitCode.OK
    rows = [
        [
            item["id"],
            item["title"],
            ",".join(item.get("languages", [])),
            ",".join(item.get("tags", [])),
            item.get("visibility", ""),
            item.get("engine", ""),
        ]
        for item in listing["items"]
    ]
    print_table(["ID", "TITLE", "LANGUAGES", "TAGS", "VISIBILITY", "ENGINE"], rows, "No voices match.")
    if listing.get("has_more"):
        Display(show_progress=False).note(f"{listing['total']} in all; next: --page {page + 1}")
    return ExitCode.OK


@click.command()
@click.option("--kind", type=click.Choice(["stt", "tts", "clone"]), help="Only tasks of this kind.")
@click.option("--status", type=click.Choice(TASK_STATUSES), help="Only tasks in this status.")
@click.option("--page-size", type=click.IntRange(1, 100), default=20, show_default=True)
@click.option("--created-after", metavar="ISO-8601", help="Only tasks created after this, e.g. 2026-12-01T00:00:00Z.")
@click.option("--owner", help="Another owner's tasks (admin keys).")
@click.option("--cursor", help="Continue a listing where the previous page ended.")
@click.option("--all", "follow", is_flag=True, help="Follow the cursors to the last page.")
@connection_options
@client_command
def tasks(session: Session, kind, status, created_after, owner, page_size, cursor, follow):
    """List your tasks, newest first."""
    params: dict[str, Any] = {"page_size": page_size}
    if kind:
        params["kind"] = kind
    if status:
        params["status"] = status
    if created_after:
        params["created_after"] = created_after
    if owner:
        params["owner"] = owner
    items: list[dict[str, Any]] = []
    while True:
        if cursor:
            params["cursor"] = cursor
        try:
            page = session.client.tasks(params)
        except ApiError as exc:
            if exc.status in (404, 405):
                raise ClientError(
                    f"this server does not list tasks (GET /v1/tasks answered {exc.status}): it predates task "
                    "listing; upgrade the server",
                    "tasks_unsupported",
                ) from exc
            raise
        items.extend(page.get("items", []))
        cursor = page.get("next_cursor")
        if not (follow and cursor):
            break
    if session.as_json:
        print_json({"items": items, "next_cursor": cursor})
        return ExitCode.OK
    rows = [
        [
            str(item.get("task_id", "")),
            str(item.get("kind", "")),
            str(item.get("status", "")),
            f"{item.get('progress', 0)}%",
            str(item.get("created_at", ""))[:19].replace("T", " "),
            (item.get("error") or {}).get("code", ""),
        ]
        for item in items
    ]
    print_table(["TASK ID", "KIND", "STATUS", "PROGRESS", "CREATED (UTC)", "ERROR"], rows, "No tasks.")
    if cursor:
        Display(show_progress=False).note(f"more: voice-api tasks --cursor {cursor}")
    return ExitCode.OK
