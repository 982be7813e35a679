"""voice-api speakers: maintenance of the known-speaker registry (worker side: it loads the encoder)."""

from __future__ import annotations

import click

from server.settings import Settings


@click.group()
def speakers() -> None:
    """The known-speaker registry (enrolled voiceprints) in the model store."""


@speakers.command("reembed")
def reembed() -> None:
    """Re-embed every voiceprint made by another encoder version from its stored samples.

    Workers also do it on first use; running it after an upgrade spares the first transcriptions
    that wait. Voiceprints of the current encoder are left as they are."""
    from server.domain.factory import open_speaker_store
    from server.worker.engines import build_speaker_encoder
    from server.worker.speaker_id import reembed_store

    settings = Settings()
    encoder = build_speaker_encoder(settings)
    done, current = reembed_store(encoder, open_speaker_store(settings))
    click.echo(f"{done} speaker(s) re-embedded with {encoder.version}; {current} already current")
