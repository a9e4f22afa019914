"""Settings of both front ends: command line > environment / `.env` > defaults.

Every knob stands here once, with its environment variable, default and meaning; `.env.example`
documents the same list (a test keeps the two in step).
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from dotenv import dotenv_values


class SettingsError(ValueError):
    """A setting has a value that cannot be used; the message names the variable."""


def _setting(default: Any, env: str, help: str) -> Any:
    return field(default=default, metadata={"env": env, "help": help})


@dataclass(frozen=True)
class Settings:
    """Everything a front end can be told. Field metadata: the env variable and a one-line help."""

    model: str = _setting("", "ALICE_MODEL", "model folder to load; empty = the bundled Alice model")
    models_dir: str = _setting("", "ALICE_MODELS_DIR",
                               "folder of model folders; each becomes its own Discord command (!holmes ...)")
    device: str = _setting("auto", "ALICE_DEVICE", "where generation runs: auto (cuda if present), cpu, cuda")
    length: int = _setting(400, "ALICE_LENGTH", "characters generated per request by default")
    max_length: int = _setting(1500, "ALICE_MAX_LENGTH", "largest length a user may ask for")
    temperature: float = _setting(0.8, "ALICE_TEMPERATURE", "sampling temperature; 0 = greedy, < 1 safer, > 1 wilder")
    top_k: int = _setting(0, "ALICE_TOP_K", "sample only from the k likeliest characters; 0 = off")
    top_p: float = _setting(0.95, "ALICE_TOP_P", "sample from the smallest set reaching this probability; 1 = off")
    max_seed_chars: int = _setting(2000, "ALICE_MAX_SEED_CHARS", "longer seeds keep only their tail")
    discord_token: str = _setting("", "DISCORD_TOKEN", "the bot's token (Discord developer portal); never logged")
    command_prefix: str = _setting("!", "ALICE_PREFIX", "prefix of text commands (!alice, !models, !sync)")
    edit_interval: float = _setting(1.2, "ALICE_EDIT_INTERVAL", "seconds between edits of a streaming reply")
    cooldown: float = _setting(10.0, "ALICE_COOLDOWN", "seconds a user waits between two generations")
    guild_concurrency: int = _setting(3, "ALICE_GUILD_CONCURRENCY", "generations running at once per server")
    discord_api_base: str = _setting("", "DISCORD_API_BASE",
                                     "REST base URL of a Discord-compatible server; empty = Discord's own")
    discord_gateway_url: str = _setting("", "DISCORD_GATEWAY_URL",
                                        "gateway URL of a Discord-compatible server; empty = Discord's own")
    discord_shards: str = _setting("", "DISCORD_SHARDS",
                                   "empty = one connection; a number or 'auto' = AutoShardedBot")

    def with_overrides(self, **overrides: Any) -> Settings:
        """A copy with the given (command-line) values; None means 'not given'."""
        given = {k: v for k, v in overrides.items() if v is not None}
        return _validated(replace(self, **given))


def add_setting_options(parser: argparse.ArgumentParser, flags: Mapping[str, str]) -> None:
    """One command-line option per named setting ({"length": "--len N"}: flag and optional metavar),
    typed, with the field's help, env variable and default in `--help`. Its argparse default is None
    (= not given), so passing the parsed values to `load_settings(**overrides)` keeps env values."""
    by_name = {f.name: f for f in fields(Settings)}
    for name, spec in flags.items():
        f = by_name[name]
        flag, _, metavar = spec.partition(" ")
        shown = "empty" if f.default == "" else f.default
        help = f"{f.metadata['help']} (env {f.metadata['env']}; default: {shown})"
        parser.add_argument(flag, dest=name, type=type(f.default), default=None, metavar=metavar or name.upper(),
                            help=help.replace("%", "%%"))


def env_names() -> dict[str, str]:
    """Field name -> environment variable."""
    return {f.name: f.metadata["env"] for f in fields(Settings)}


def load_settings(environ: Mapping[str, str] | None = None, dotenv: Path | str | None = ".env",
                  **overrides: Any) -> Settings:
    """Settings from `overrides` (command line), then `environ` (default: os.environ), then the
    `.env` file (if it exists), then the defaults. Raises SettingsError naming a bad variable."""
    environ = os.environ if environ is None else environ
    file_values = {k: v for k, v in dotenv_values(dotenv).items() if v is not None} \
        if dotenv and Path(dotenv).is_file() else {}
    values: dict[str, Any] = {}
    for f in fields(Settings):
        env = f.metadata["env"]
        raw = environ.get(env, file_values.get(env))
        if raw is None or raw.strip() == "" and f.type != "str":
            continue
        kind = type(f.default)
        try:
            values[f.name] = kind(raw.strip())
        except ValueError:
            raise SettingsError(f"{env}={raw!r} is not a valid {kind.__name__}") from None
    return Settings(**values).with_overrides(**overrides)


def _validated(s: Settings) -> Settings:
    checks = [
        (s.length > 0, "ALICE_LENGTH must be a positive number of characters"),
        (s.max_length >= s.length, "ALICE_MAX_LENGTH must be at least ALICE_LENGTH"),
        (0 <= s.temperature <= 10, "ALICE_TEMPERATURE must be between 0 and 10"),
        (s.top_k >= 0, "ALICE_TOP_K must be 0 (off) or positive"),
        (0 < s.top_p <= 1, "ALICE_TOP_P must be in (0, 1]"),
        (s.max_seed_chars > 0, "ALICE_MAX_SEED_CHARS must be positive"),
        (s.edit_interval >= 0, "ALICE_EDIT_INTERVAL must not be negative"),
        (s.cooldown >= 0, "ALICE_COOLDOWN must not be negative"),
        (s.guild_concurrency > 0, "ALICE_GUILD_CONCURRENCY must be positive"),
        (s.device in ("auto", "cpu", "cuda") or s.device.startswith("cuda:"),
         "ALICE_DEVICE must be auto, cpu or cuda"),
    ]
    for ok, message in checks:
        if not ok:
            raise SettingsError(message)
    return s
