"""Where the client finds its server and key: flags, then environment, then a config file.

~/.config/voice-api/client.toml (or $XDG_CONFIG_HOME/voice-api/client.toml, or the file named by
VOICE_API_CLIENT_CONFIG) holds, for example:

    server = "https://voice.example.com"
    key = "va_..."

A key in the environment or the file stays out of `ps` and shell history, unlike --key.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from server.client.errors import UsageProblem

DEFAULT_SERVER = "http://127.0.0.1:8000"
SERVER_ENV, KEY_ENV, CONFIG_ENV = "VOICE_API_URL", "VOICE_API_KEY", "VOICE_API_CLIENT_CONFIG"
KNOWN_KEYS = {"server", "key"}


@dataclass(frozen=True)
class ClientConfig:
    server: str
    key: str | None
    key_source: str | None  # "--key", "VOICE_API_KEY" or the config file's path: named in auth errors


def config_path(environ: Mapping[str, str] = os.environ) -> Path:
    if explicit := environ.get(CONFIG_ENV):
        return Path(explicit).expanduser()
    base = Path(environ["XDG_CONFIG_HOME"]) if environ.get("XDG_CONFIG_HOME") else Path.home() / ".config"
    return base / "voice-api" / "client.toml"


def read_config_file(path: Path) -> dict[str, str]:
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UsageProblem(f"{path} is not valid TOML: {exc}") from exc
    # A misspelt setting would otherwise be ignored without a word and the default used instead.
    if unknown := sorted(set(data) - KNOWN_KEYS):
        raise UsageProblem(f"{path}: unknown setting(s) {', '.join(unknown)}; known: server, key")
    for name, value in data.items():
        if not isinstance(value, str):
            raise UsageProblem(f"{path}: {name} must be a string")
    return data


def resolve(
    server: str | None, key: str | None, environ: Mapping[str, str] = os.environ, path: Path | None = None
) -> ClientConfig:
    path = path or config_path(environ)
    file = read_config_file(path)
    chosen_server = server or environ.get(SERVER_ENV) or file.get("server") or DEFAULT_SERVER
    if not chosen_server.startswith(("http://", "https://")):
        raise UsageProblem(f"server URL must start with http:// or https://, got {chosen_server!r}")
    for value, source in ((key, "--key"), (environ.get(KEY_ENV), KEY_ENV), (file.get("key"), str(path))):
        if value:
            return ClientConfig(chosen_server.rstrip("/"), value.strip(), source)
    return ClientConfig(chosen_server.rstrip("/"), None, None)
