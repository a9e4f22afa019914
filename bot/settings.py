"""Settings of both front ends: command line > environment / `.env` > defaults.

Every knob stands here once, with its environment variable, default and meaning; `.env.example`
documents the same list (a test keeps the two in step).
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from dotenv import dotenv_values

from engine.bestof import BEST_OF_RULE, DEFAULT_BEST_OF, best_of_allowed
from engine.steps import CHOICES as PRECISIONS  # auto and the precisions (no torch: cheap to import)


class SettingsError(ValueError):
    """A setting has a value that cannot be used. The message names the variable; `rule` says what the
    value must be without naming anything, for a front end to name what the user typed (--len 0, /len 0)."""

    def __init__(self, message: str, rule: str = "") -> None:
        super().__init__(message)
        self.rule = rule or message


def _setting(default: Any, env: str, help: str) -> Any:
    return field(default=default, metadata={"env": env, "help": help})


@dataclass(frozen=True)
class Settings:
    """Everything a front end can be told. Field metadata: the env variable and a one-line help."""

    model: str = _setting("", "ALICE_MODEL", "model folder to load; empty = the bundled Alice model")
    models_dir: str = _setting("", "ALICE_MODELS_DIR",
                               "folder of model folders; each becomes its own Discord command (!holmes ...)")
    device: str = _setting("auto", "ALICE_DEVICE", "where generation runs: auto (cuda if present), cpu, cuda")
    precision: str = _setting("auto", "ALICE_PRECISION", "weights generation runs in: auto (the fastest here "
                              "whose measured cost is <= 0.01 bits/char), " + ", ".join(PRECISIONS[1:]))
    length: int = _setting(400, "ALICE_LENGTH", "characters generated per request by default")
    max_length: int = _setting(1500, "ALICE_MAX_LENGTH",
                               "largest length a Discord user may ask for (the terminal has no cap)")
    temperature: float = _setting(0.8, "ALICE_TEMPERATURE", "sampling temperature; 0 = greedy, < 1 safer, > 1 wilder")
    top_k: int = _setting(0, "ALICE_TOP_K", "sample only from the k likeliest characters; 0 = off")
    top_p: float = _setting(0.95, "ALICE_TOP_P", "sample from the smallest set reaching this probability; 1 = off")
    words: str = _setting("lexicon", "ALICE_WORDS",
                          "lexicon = write only words of the model's lexicon.txt; free = any spelling")
    best_of: int = _setting(DEFAULT_BEST_OF, "ALICE_BEST_OF", "write sentence by sentence, each the best of this many "
                            "candidates by the model's own score (1 = plain sampling; more = more sense, slower)")
    case: str = _setting("book", "ALICE_CASE", "book = capitals where the book prints them (sentence starts, I, "
                         "names); lower = all lowercase, as the model writes")
    max_seed_chars: int = _setting(400, "ALICE_MAX_SEED_CHARS", "longer seeds (and stories) are read from their "
                                   "last this many characters (the models remember less: bench/seed_horizon.py)")
    exact: bool = _setting(False, "ALICE_EXACT", "write exactly the length asked for; off = about that many, "
                           "ending at a sentence end (at most 25% more) or cut back to a word end")
    state_cache_mb: float = _setting(64.0, "ALICE_STATE_CACHE_MB",
                                     "memory for recent stories' model states (about 9 KB each); 0 = none")
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
    learn_role: str = _setting("", "ALICE_LEARN_ROLE",
                               "Discord role (its name) whose members may !learn; empty = the bot's owner only")
    learn_minutes: float = _setting(0.0, "ALICE_LEARN_MINUTES", "most minutes of training a !learn or /learn may "
                                    "ask for, and its budget when none is asked; 0 = the training defaults")
    learn_upload_mb: float = _setting(20.0, "ALICE_LEARN_UPLOAD_MB", "largest .txt attachment !learn takes (MB)")
    learn_disk_mb: float = _setting(2000.0, "ALICE_LEARN_DISK_MB", "no new model once the models folder would "
                                    "pass this many MB (a run needs about 120 MB while it trains); 0 = no limit")
    learn_train_args: str = _setting("", "ALICE_LEARN_TRAIN_ARGS",
                                     "extra options for python -m train, e.g. --threads 1 or --device cuda")

    def with_overrides(self, **overrides: Any) -> Settings:
        """A copy with the given (command-line) values; None means 'not given'. A value breaking its
        setting's rule raises SettingsError."""
        given = {k: v for k, v in overrides.items() if v is not None}
        for name, value in given.items():
            _check(name, value)
        return replace(self, **given)


def add_setting_options(parser: argparse.ArgumentParser, flags: Mapping[str, str]) -> None:
    """One command-line option per named setting ({"length": "--len N"}: flag and optional metavar),
    typed, with the field's help, env variable and default in `--help`. Its argparse default is None
    (= not given), so passing the parsed values to `load_settings(**overrides)` keeps env values."""
    by_name = {f.name: f for f in fields(Settings)}
    for name, spec in flags.items():
        f = by_name[name]
        flag, _, metavar = spec.partition(" ")
        shown = "empty" if f.default == "" else ("on" if f.default else "off") if isinstance(f.default, bool) \
            else f.default
        help = f"{f.metadata['help']} (env {f.metadata['env']}; default: {shown})"
        if isinstance(f.default, bool):  # a switch: given = on
            parser.add_argument(flag, dest=name, action="store_const", const=True, default=None,
                                help=help.replace("%", "%%"))
            continue
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
            values[f.name] = parse_bool(raw) if kind is bool else kind(raw.strip())
        except ValueError:
            if kind is bool:
                raise SettingsError(f"{env}={raw!r} must be on or off") from None
            raise SettingsError(f"{env}={raw!r} is not a valid {kind.__name__}") from None
        _check(f.name, values[f.name])
    return Settings(**values).with_overrides(**overrides)


def parse_bool(text: str) -> bool:
    """on/off, true/false, yes/no, 1/0 (any case); ValueError otherwise."""
    value = text.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{text!r} is not on or off")


def checked_for_discord(settings: Settings) -> Settings:
    """The Discord bot's own rule: its default length is one a user may ask for (the cap exists for
    Discord's 2,000-character messages; the terminal has none)."""
    if settings.length > settings.max_length:
        raise SettingsError(f"ALICE_LENGTH ({settings.length}) must be at most ALICE_MAX_LENGTH "
                            f"({settings.max_length}), the largest length a Discord user may ask for")
    return settings


_RULES: dict[str, tuple[Callable[[Any], bool], str]] = {  # setting: (test of a value, the rule in words)
    "length": (lambda v: v > 0, "must be a positive number of characters"),
    "max_length": (lambda v: v > 0, "must be a positive number of characters"),
    "temperature": (lambda v: 0 <= v <= 10, "must be between 0 and 10"),
    "top_k": (lambda v: v >= 0, "must be 0 (off) or positive"),
    "top_p": (lambda v: 0 < v <= 1, "must be in (0, 1]"),
    "max_seed_chars": (lambda v: v > 0, "must be positive"),
    "state_cache_mb": (lambda v: v >= 0, "must not be negative"),
    "edit_interval": (lambda v: v >= 0, "must not be negative"),
    "cooldown": (lambda v: v >= 0, "must not be negative"),
    "guild_concurrency": (lambda v: v > 0, "must be positive"),
    "device": (lambda v: v in ("auto", "cpu", "cuda") or v.startswith("cuda:"), "must be auto, cpu or cuda"),
    "words": (lambda v: v in ("lexicon", "free"), "must be lexicon or free"),
    "case": (lambda v: v in ("book", "lower"), "must be book or lower"),
    "best_of": (best_of_allowed, BEST_OF_RULE),
    "precision": (lambda v: v in PRECISIONS, f"must be {', '.join(PRECISIONS[:-1])} or {PRECISIONS[-1]}"),
    "learn_minutes": (lambda v: v >= 0, "must not be negative"),
    "learn_upload_mb": (lambda v: v > 0, "must be positive"),
    "learn_disk_mb": (lambda v: v >= 0, "must not be negative"),
}


def _check(name: str, value: Any) -> None:
    """Raise SettingsError if `value` breaks setting `name`'s rule (settings without one take anything)."""
    test, rule = _RULES.get(name, (lambda v: True, ""))
    if not test(value):
        raise SettingsError(f"{env_names()[name]} {rule}", rule)
