"""voice-api models: provision (connected side), pack/unpack, verify and list (air-gapped side)."""

from __future__ import annotations

import json
import os
import shlex
import sys
from pathlib import Path

import click

from model_store import manifest
from model_store.provision import pack, provision, unpack
from model_store.sources import HUB, MODEL_SETS
from model_store.wheelhouse import WheelhouseError, build_wheelhouse, download_command
from server.settings import Settings


def _store(path: str | None) -> Path:
    store = Path(path) if path else Settings().storage.models
    store.mkdir(parents=True, exist_ok=True)
    return store


store_option = click.option("--store", default=None, help="Model store directory (default: settings)")


@click.group()
def models() -> None:
    """Provision, verify and list the local model store (nothing is fetched at run time)."""


@models.command("available")
def available_sets() -> None:
    """Model sets that `provision` knows, with their licences."""
    for model_set in MODEL_SETS.values():
        gated = " [gated: set HF_TOKEN]" if model_set.gated else ""
        click.echo(f"{model_set.name:28} {model_set.engine:9} {model_set.licence}{gated}")


@models.command("provision")
@click.argument("names", nargs=-1, required=True)
@store_option
@click.option("--mirror", default=HUB, show_default=True, help="Hub or internal mirror base URL")
def provision_sets(names: tuple[str, ...], store: str | None, mirror: str) -> None:
    """Download model sets into the store (run on a connected machine)."""
    root = _store(store)
    for name in names:
        if name not in MODEL_SETS:
            raise click.BadParameter(f"unknown model set {name!r}; see `voice-api models available`")
        entry = provision(MODEL_SETS[name], root, base_url=mirror, token=os.environ.get("HF_TOKEN"))
        click.echo(f"{name}: {len(entry['files'])} file(s), licence: {entry['licence']}")


def _default_lock() -> Path:
    # In a checkout: the server profile's lock for the Python running this command.
    version = f"{sys.version_info[0]}.{sys.version_info[1]}"
    return Path(__file__).resolve().parent.parent / "requirements" / f"server-py{version}.txt"


@models.command("pack")
@click.argument("archive", type=click.Path(dir_okay=False), required=False)
@store_option
@click.option(
    "--wheelhouse",
    type=click.Path(file_okay=False),
    default=None,
    help="Also download every wheel the lock pins (hash-checked) into this directory",
)
@click.option(
    "--lock",
    type=click.Path(dir_okay=False),
    default=None,
    help="The lock for --wheelhouse (default: requirements/server-py3.X.txt for this Python)",
)
@click.option("--dry-run", is_flag=True, help="Print the download command for --wheelhouse instead of running it")
def pack_store(archive: str | None, store: str | None, wheelhouse: str | None, lock: str | None, dry_run: bool) -> None:
    """Pack the manifest and every provisioned file into a tar to carry across the air gap, and/or
    (--wheelhouse) the Python packages of the lock, so the offline site installs the same server."""
    if archive is None and wheelhouse is None:
        raise click.UsageError("give an ARCHIVE for the models, --wheelhouse DIR for the packages, or both")
    if wheelhouse is not None:
        lock_file = Path(lock) if lock else _default_lock()
        if dry_run:
            click.echo(shlex.join(download_command(lock_file, Path(wheelhouse))))
        else:
            try:
                wheels = build_wheelhouse(lock_file, Path(wheelhouse))
            except WheelhouseError as exc:
                raise click.ClickException(str(exc)) from exc
            click.echo(f"{wheelhouse}: {len(wheels)} distribution(s) from {lock_file.name}")
    if archive is not None and not dry_run:
        click.echo(pack(_store(store), Path(archive)))


@models.command("unpack")
@click.argument("archive", type=click.Path(exists=True, dir_okay=False))
@store_option
def unpack_store(archive: str, store: str | None) -> None:
    """Unpack a bundle into the store, then verify it."""
    root = _store(store)
    unpack(Path(archive), root)
    _report(root)


@models.command("verify")
@store_option
def verify_store(store: str | None) -> None:
    """Recompute every checksum in the manifest; exit 1 if anything is missing or altered."""
    _report(_store(store))


def _report(root: Path) -> None:
    problems = manifest.verify(root)
    for problem in problems:
        click.echo(f"FAIL {problem.model_set}: {problem.path}: {problem.issue}", err=True)
    sets = manifest.load(root)["model_sets"]
    if problems:
        raise SystemExit(1)
    click.echo(f"OK: {sum(len(e['files']) for e in sets.values())} file(s) in {len(sets)} model set(s) verified")


@models.command("list")
@store_option
@click.option("--json", "as_json", is_flag=True)
def list_store(store: str | None, as_json: bool) -> None:
    """What is installed, its licence, and which engine serves each capability."""
    from server.worker.engines import describe

    settings = Settings()
    if store:
        settings.storage.model_store_dir = Path(store)
    root = settings.storage.models
    installed = (
        {
            name: {"engine": e["engine"], "licence": e["licence"], "files": len(e["files"])}
            for name, e in manifest.load(root)["model_sets"].items()
        }
        if root.exists()
        else {}
    )
    engines = describe(settings)
    if as_json:
        click.echo(json.dumps({"store": str(root), "installed": installed, "engines": engines}, indent=2))
        return
    click.echo(f"model store: {root}")
    for name, info in installed.items():
        click.echo(f"  {name:28} {info['engine']:9} {info['files']} file(s)  licence: {info['licence']}")
    click.echo("engines serving each capability:")
    for capability, info in engines.items():
        state = "available" if info.get("available") else "UNAVAILABLE"
        click.echo(f"  {capability:12} {info['engine']:15} {info.get('model', '')} ({state})")
