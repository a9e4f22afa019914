"""`python -m bot discord`: the Discord front end (a commands.Bot, or AutoShardedBot when sharded).

Settings come from the command line, the environment and `.env` (see `.env.example`). Startup
failures (no token, token rejected, intent missing, Discord unreachable) print one line and exit 2.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import re
import sys
from collections.abc import Iterator
from dataclasses import fields
from pathlib import Path

import discord
import yarl
from discord import app_commands
from discord.ext import commands
from discord.gateway import DiscordWebSocket

from bot.command_names import BUILTIN_COMMANDS, MAIN_MODEL
from bot.discord_app.alice_commands import AliceCog, make_teller, model_command
from bot.discord_app.channel_output import NO_MENTIONS, answer, hide_folders
from bot.discord_app.learn_commands import LearnCog
from bot.discord_app.streaming_reply import REQUEST_ERRORS
from bot.model_loading import close_generator, generator_from_settings
from bot.settings import Settings, SettingsError, add_setting_options, checked_for_discord, load_settings
from engine import BUNDLED_MODEL, Generator, ModelFolderError, read_model_info

log = logging.getLogger(__name__)

EXIT_STARTUP = 2
SETTING_NAMES = [f.name for f in fields(Settings) if f.name != "discord_token"]  # command-line options
INTENT_FIX = ("the message content intent is not enabled for this bot: Discord developer portal > "
              "your application > Bot > Privileged Gateway Intents > turn on MESSAGE CONTENT INTENT")


def command_name(folder: str) -> str:
    """A folder name as a command name: lowercase, only a-z 0-9 _ -, at most 32 characters."""
    return re.sub(r"[^a-z0-9_-]+", "-", folder.lower()).strip("-")[:32]


def find_models(settings: Settings) -> dict[str, Path]:
    """Command name -> model folder: `alice` serves ALICE_MODEL (or the bundled model); every
    valid model folder in ALICE_MODELS_DIR adds a command named after the folder."""
    models = {MAIN_MODEL: Path(settings.model).expanduser() if settings.model else BUNDLED_MODEL}
    read_model_info(models[MAIN_MODEL])  # a broken main model stops the bot at once
    if not settings.models_dir:
        return models
    root = Path(settings.models_dir).expanduser()
    if not root.is_dir():
        raise ModelFolderError(f"{root}: ALICE_MODELS_DIR is not a folder")
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        name = command_name(folder.name)
        if not name or name in BUILTIN_COMMANDS or name in models:
            why = f"the command {name!r} is taken" if name else "its name has no letters or digits"
            log.warning("skipping model folder %s: %s", folder, why)
            continue
        try:
            read_model_info(folder)
        except ModelFolderError as exc:
            log.warning("skipping %s: %s", folder, exc)
            continue
        models[name] = folder
    return models


class AliceTree(app_commands.CommandTree):
    """The slash commands: an error that no command answered itself (the commands answer theirs in
    AliceCog.on_command_error) is answered in plain words, to the asker only, through the channel's gate."""

    async def on_error(self, interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        if isinstance(error, app_commands.CommandNotFound):
            line = "I do not know that command any more; the bot's owner can run !sync."
        elif isinstance(error, app_commands.CheckFailure):
            line = "You cannot use that command here."
        else:
            log.error("slash command %s failed", interaction.command and interaction.command.name, exc_info=error)
            line = "Sorry, something went wrong; the error is in the bot's log."
        with contextlib.suppress(*REQUEST_ERRORS):
            await answer(interaction, line)


class AliceBot(commands.Bot):
    """The bot: one shared Generator per model, the Teller that writes stories into replies (and
    answers the buttons under them), the Alice cog, one command per extra model."""

    def __init__(self, settings: Settings, models: dict[str, Path], **options) -> None:
        intents = discord.Intents.default()
        intents.message_content = True  # privileged: commands are read from message text
        super().__init__(command_prefix=settings.command_prefix, intents=intents, case_insensitive=True,
                         allowed_mentions=NO_MENTIONS, chunk_guilds_at_startup=False, tree_cls=AliceTree,
                         **options)
        self.settings, self.model_paths = settings, models
        hide_folders([settings.models_dir, settings.model, *map(str, models.values())])  # never shown to a channel
        self.generators: dict[str, Generator] = {}
        self.alice_cog: AliceCog | None = None  # made in setup_hook: its Teller needs the bot's user id
        self.learn_cog: LearnCog | None = None

    async def setup_hook(self) -> None:
        for name, path in self.model_paths.items():
            try:  # loading reads weights from disk: a worker thread keeps the event loop free
                self.generators[name] = await asyncio.to_thread(generator_from_settings, self.settings, path)
            except ModelFolderError as exc:
                if name == MAIN_MODEL:
                    raise
                log.warning("skipping %s: %s", path, exc)
        teller = make_teller(self.user.id, self.settings, self.generators)  # login has set self.user
        self.alice_cog = AliceCog(self, self.settings, self.generators, teller, self.rescan_models)
        await self.add_cog(self.alice_cog)
        self.add_dynamic_items(teller.buttons.item)  # the buttons under every reply, sent before a restart too
        for name in self.generators:
            if name != MAIN_MODEL:
                self.add_command(model_command(self.alice_cog, name))
        self.learn_cog = LearnCog(self, self.settings, self.serve_model, self.rescan_models)
        await self.add_cog(self.learn_cog)

    async def serve_model(self, name: str, path: Path) -> None:
        """Serve the model folder `path` as !name from now on (/name after !sync), in place of any model
        of that name (its running streams finish; dropping the last reference stops its worker)."""
        generator = await asyncio.to_thread(generator_from_settings, self.settings, path)
        self.model_paths[name], self.generators[name] = path, generator
        self.remove_command(name)
        self.add_command(model_command(self.alice_cog, name))
        log.info("serving %s from %s", self.settings.command_prefix + name, path)

    async def rescan_models(self) -> list[str]:
        """Serve the model folders that appeared in ALICE_MODELS_DIR since the start; their names."""
        try:
            found = await asyncio.to_thread(find_models, self.settings)
        except ModelFolderError as exc:
            log.warning("cannot look for new models: %s", exc)
            return []
        added = []
        for name, path in found.items():
            if name in self.generators or name in self.all_commands:
                continue
            try:
                await self.serve_model(name, path)
            except ModelFolderError as exc:
                log.warning("skipping %s: %s", path, exc)
                continue
            added.append(name)
        return added

    async def on_ready(self) -> None:
        names = ", ".join(self.settings.command_prefix + name for name in self.generators)
        log.info("logged in as %s in %d servers; commands: %s", self.user, len(self.guilds), names)

    async def close(self) -> None:
        if self.learn_cog is not None:
            await self.remove_cog(self.learn_cog.qualified_name)  # stops a training run (nothing of it is kept)
        await super().close()
        for generator in self.generators.values():
            close_generator(generator)


class ShardedAliceBot(AliceBot, commands.AutoShardedBot):
    """The same bot over several gateway connections (DISCORD_SHARDS)."""


def make_bot(settings: Settings, models: dict[str, Path]) -> AliceBot:
    """AliceBot, or ShardedAliceBot when DISCORD_SHARDS is a number or 'auto'."""
    discord.VoiceClient.warn_nacl = discord.VoiceClient.warn_dave = False  # alice never joins voice
    shards = settings.discord_shards.strip().lower()
    if not shards:
        return AliceBot(settings, models)
    if shards == "auto":
        return ShardedAliceBot(settings, models)  # Discord says how many shards (GET /gateway/bot)
    if not shards.isdigit() or int(shards) < 1:
        raise SettingsError(f"DISCORD_SHARDS={settings.discord_shards!r} must be empty, 'auto' or a positive number")
    return ShardedAliceBot(settings, models, shard_count=int(shards))


@contextlib.contextmanager
def discord_endpoints(api_base: str = "", gateway_url: str = "") -> Iterator[None]:
    """Point discord.py at a Discord-compatible server (REST base such as http://host/api/v10,
    gateway such as ws://host/); empty values keep discord.py's defaults. Restored on exit."""
    saved = discord.http.Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY
    try:
        if api_base:
            discord.http.Route.BASE = api_base.rstrip("/")
        if gateway_url:
            DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)
        yield
    finally:
        discord.http.Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY = saved


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options, one per setting (the token only from the environment or .env)."""
    parser = argparse.ArgumentParser(prog="alice-discord", description="Run alice as a Discord bot.")
    parser.add_argument("--env-file", default=".env", help="settings file read after the environment")
    parser.add_argument("--verbose", action="store_true", help="show discord.py's own progress messages")
    # every setting but the token, which on a command line would show in `ps`
    flags = {name: "--" + name.replace("_", "-") for name in SETTING_NAMES} | {"command_prefix": "--prefix"}
    add_setting_options(parser, flags)
    return parser.parse_args(argv)


def fail(message: str) -> int:
    print(f"alice-discord: {message}", file=sys.stderr)
    return EXIT_STARTUP


def main(argv: list[str] | None = None) -> int:
    """Run the bot until Ctrl-C; 2 with one line on stderr when it cannot start."""
    args = parse_args(argv)
    overrides = {name: getattr(args, name) for name in SETTING_NAMES}
    try:
        settings = checked_for_discord(load_settings(dotenv=args.env_file, **overrides))
        token = settings.discord_token.strip()
        if not token:
            return fail("DISCORD_TOKEN is not set: put the bot's token in .env or the environment "
                        "(see .env.example)")
        # discord.py's log format for everything; its own chatter only with --verbose
        discord.utils.setup_logging(level=logging.INFO if args.verbose else logging.WARNING, root=True)
        logging.getLogger("bot").setLevel(logging.INFO)  # our progress lines (models found, logged in)
        bot = make_bot(settings, find_models(settings))
    except (SettingsError, ModelFolderError) as exc:
        return fail(str(exc))
    api_base = settings.discord_api_base or discord.http.Route.BASE
    try:
        with discord_endpoints(settings.discord_api_base, settings.discord_gateway_url):
            bot.run(token, log_handler=None)  # logging is set up above
    except discord.LoginFailure:
        return fail("Discord rejected DISCORD_TOKEN: copy the token again from the developer portal "
                    "(your application > Bot > Reset Token)")
    except discord.PrivilegedIntentsRequired:
        return fail(INTENT_FIX)
    except ModelFolderError as exc:
        return fail(str(exc))
    except (OSError, asyncio.TimeoutError, discord.GatewayNotFound) as exc:
        return fail(f"cannot reach Discord at {api_base}: {exc or type(exc).__name__}")
    except discord.HTTPException as exc:
        return fail(f"Discord refused to start the bot: HTTP {exc.status} {exc.text or ''}".rstrip())
    return 0
