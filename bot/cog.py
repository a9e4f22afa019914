"""The Discord commands: `!alice` (also `/alice`), one command per extra model, `!models`, `!sync`.

`!alice <text>` sent as a reply to one of the bot's replies (or a reply that mentions the bot) adds
`<text>` to that reply's story and continues it (bot/chain.py, bot/teller.py)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from functools import partial
from typing import Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.buttons import model_of, writing_view
from bot.chain import Chains, without_mentions
from bot.channel import NO_MENTIONS, echo, send
from bot.describe import corpus_name, model_line
from bot.gate import REFUSALS, Gate
from bot.reply import MESSAGE_LIMIT, REQUEST_ERRORS, describe, render
from bot.settings import Settings
from bot.teller import Teller
from engine import Conversation, Generator
from engine.bestof import BEST_OF_RULE, MAX_BEST_OF, best_of_allowed
from engine.sampling import CASES, WORDS

log = logging.getLogger(__name__)

MAIN_MODEL = "alice"  # the command that serves ALICE_MODEL (or the bundled book)
BUILTIN_COMMANDS = frozenset({MAIN_MODEL, "models", "sync", "help"})
MAX_USER_TEMPERATURE = 2.0
TYPING_EVERY = 8.0  # seconds; Discord shows "typing…" for about 10 s after each request
# `--temp 0.5`, `--len=400`, `--words free`; phones often turn `--` into an em dash, so that counts too
_OPTION = re.compile(r"(?:--|\u2014)(temp|temperature|len|length|words|best|case)(?:=|\s+)(\S+)(?:\s+|$)")
DESCRIBE = {
    "seed": "text to continue; empty = start a new paragraph",
    "temperature": f"0 = always the likeliest letter, up to {MAX_USER_TEMPERATURE:g} = wild",
    "length": "how many characters to write",
    "words": "lexicon = only words the book (and the library) use; free = any spelling",
    "best": f"write each sentence as the best of this many (1 = plain sampling, up to {MAX_BEST_OF})",
    "case": "book = capitals where the book prints them; lower = all lowercase",
}


class Refused(commands.BadArgument):
    """A request this bot turns away in its own words (people's words in it already `echo`ed)."""


@dataclass
class Asked:
    """What a command asked for: its seed and the options written before it (None: not given)."""

    seed: str
    temperature: float | None = None
    length: int | None = None
    words: str | None = None
    best: int | None = None
    case: str | None = None


def parse_options(text: str) -> Asked:
    """Split `--temp X --len N --words W --best K seed...` into the seed and the options given."""
    asked = Asked(text.lstrip())
    while match := _OPTION.match(asked.seed):
        name, value = match.groups()
        asked.seed = asked.seed[match.end():]
        if name == "words":
            if value.lower() not in WORDS:
                raise Refused(f"--words must be lexicon or free, not {echo(value)}.")
            asked.words = value.lower()
            continue
        if name == "case":
            if value.lower() not in CASES:
                raise Refused(f"--case must be book or lower, not {echo(value)}.")
            asked.case = value.lower()
            continue
        try:
            if name.startswith("temp"):
                asked.temperature = float(value)
            elif name == "best":
                asked.best = int(value)
            else:
                asked.length = int(value)
        except ValueError:
            raise Refused(f"--{name} needs a {'number' if name.startswith('temp') else 'whole number'}, "
                          f"not {echo(value)}.") from None
    return asked


async def keep_typing(channel: discord.abc.Messageable) -> None:
    """Show "typing…" in `channel` until cancelled. Decoration only: the first failure (no
    permission, Discord trouble) is logged and ends the indicator, never the reply."""
    while True:
        try:
            await channel.typing()  # one request, unlike `async with`, whose failure would end the command
        except REQUEST_ERRORS as exc:
            log.warning("typing indicator failed (%s); writing on without it", describe(exc))
            return
        await asyncio.sleep(TYPING_EVERY)


@contextlib.asynccontextmanager
async def typing_while(ctx: commands.Context) -> AsyncIterator[None]:
    """Show "typing…" for a text command while the body runs, in the background so that it never
    delays or stops the body; nothing for a slash command, whose reply is its own "working" sign."""
    if ctx.interaction is not None:
        yield
        return
    typing = asyncio.create_task(keep_typing(ctx.channel))
    try:
        yield
    finally:
        typing.cancel()


class AliceCog(commands.Cog, name="Alice"):
    """Writes continuations of people's text in the voice of a book."""

    rescan: Callable[[], Awaitable[object]] | None = None  # serves model folders added since the start

    def __init__(self, bot: commands.Bot, settings: Settings, generators: dict[str, Generator],
                 teller: Teller) -> None:
        self.bot, self.settings, self.generators, self.teller = bot, settings, generators, teller

    @commands.hybrid_command(name=MAIN_MODEL, description="Continue your text in the voice of the book")
    @app_commands.describe(**DESCRIBE)
    async def alice(self, ctx: commands.Context, *, seed: str = "", temperature: float | None = None,
                    length: int | None = None, words: Literal["lexicon", "free"] | None = None,
                    best: int | None = None, case: Literal["book", "lower"] | None = None) -> None:
        """Continue your text in the book's voice: !alice --temp 0.5 --len 400 --words free --best 4 <seed>"""
        await self.write(ctx, MAIN_MODEL, Asked(seed, temperature, length, words, best, case))

    @commands.hybrid_command(name="models")
    async def models(self, ctx: commands.Context) -> None:
        """List the books I can write like, with how well each was learnt (bits/char: lower is better)."""
        if self.rescan is not None:
            await self.rescan()
        lines = [f"`{ctx.clean_prefix}{name}`: {model_line(gen.loaded.config, echo)}; "
                 f"best of {self.teller.sampling_now(name).best_of} now" for name, gen in self.generators.items()]
        await send(ctx, "\n".join(lines)[:MESSAGE_LIMIT])

    @commands.command(name="sync")
    @commands.is_owner()
    async def sync(self, ctx: commands.Context) -> None:
        """Register the slash commands with Discord (bot owner only; run it after adding models)."""
        synced = await self.bot.tree.sync()
        names = ", ".join(f"/{command.name}" for command in synced)
        await send(ctx, f"Synced {len(synced)} slash commands: {names}")

    async def write(self, ctx: commands.Context, model: str, asked: Asked) -> None:
        """Reply at once, then stream the model's continuation of the seed into the reply."""
        if ctx.interaction is None:  # text command: options are written inside the message
            asked = parse_options(asked.seed)
        seed, temperature, length = asked.seed, asked.temperature, asked.length
        if asked.best is not None and not best_of_allowed(asked.best):
            raise Refused(f"Best {BEST_OF_RULE}.")
        if temperature is not None and not 0 <= temperature <= MAX_USER_TEMPERATURE:
            raise Refused(f"Temperature must be between 0 and {MAX_USER_TEMPERATURE:g}.")
        if length is not None and not 1 <= length <= self.settings.max_length:
            raise Refused(f"Length must be between 1 and {self.settings.max_length} characters.")
        temperature = self.settings.temperature if temperature is None else temperature
        length = self.settings.length if length is None else length
        default = self.teller.sampling_now(model)  # best-of K lowered under load, unless asked for
        sampling = replace(default, temperature=temperature, words=asked.words or default.words,
                           best_of=asked.best or default.best_of, case=asked.case or default.case)
        server = ctx.guild.id if ctx.guild else ctx.channel.id
        with self.teller.gate.slot(ctx.author.id, server):
            message = await ctx.reply(render(seed, "", False), view=writing_view(model), allowed_mentions=NO_MENTIONS,
                                      mention_author=False)
            async with typing_while(ctx):
                await self.teller.tell(message, self.story_for(ctx, seed), seed, model, sampling, length,
                                       ctx.author.id, resend=partial(ctx.send, allowed_mentions=NO_MENTIONS))

    async def story_for(self, ctx: commands.Context, seed: str) -> Conversation:
        """The story `seed` adds to: that of the bot's reply the command answers, else a new one."""
        story = Conversation()
        if ctx.interaction is None:
            parent = await self.teller.chains.parent(ctx.message)
            if parent is not None and parent.author.id == self.bot.user.id and model_of(parent):  # a story reply
                story = await self.teller.chains.story_through(parent)
        story.add(seed)
        return story

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        """A reply to one of the bot's replies that mentions the bot (and is no command) goes on with
        that story, as `!alice <text>` sent as that reply would."""
        me = self.bot.user
        if message.author.bot or message.reference is None or me is None or me not in message.mentions:
            return
        if message.content.startswith(self.settings.command_prefix):
            return  # a command: it finds the story itself
        parent = await self.teller.chains.parent(message)
        if parent is None or parent.author.id != me.id or model_of(parent) is None:
            return  # not one of the bot's story replies (those carry its buttons)
        ctx = await self.bot.get_context(message)
        text = without_mentions(message.content, me.id)
        model = model_of(parent)
        try:
            await self.write(ctx, model if model in self.generators else MAIN_MODEL, Asked(text))
        except commands.CommandError as error:
            await self.on_command_error(ctx, error)

    @commands.Cog.listener()
    async def on_command_error(self, ctx: commands.Context, error: commands.CommandError) -> None:
        """Answer every failed command in plain words (only to the asker, for slash commands)."""
        if isinstance(error, commands.HybridCommandError):
            error = error.original  # an app-command error wrapped for the hybrid command
        if isinstance(error, commands.CommandNotFound):
            return
        if isinstance(error, REFUSALS):
            answer = self.teller.gate.refusal(error)
        elif isinstance(error, commands.NotOwner):
            command = ctx.command.qualified_name if ctx.command else "that command"
            answer = f"Only the bot's owner can use {ctx.clean_prefix}{command}."
        elif isinstance(error, Refused):
            answer = str(error)
        elif isinstance(error, (commands.UserInputError, app_commands.TransformerError)):
            answer = echo(str(error))  # discord.py's words may quote what was typed
        else:
            original = getattr(error, "original", error)
            log.error("command %s failed", ctx.command, exc_info=original)
            answer = "Sorry, something went wrong while writing; the error is in the bot's log."
        with contextlib.suppress(*REQUEST_ERRORS):  # Discord trouble: nothing more to say it with
            await send(ctx, answer, ephemeral=True)


def make_teller(me: int, settings: Settings, generators: dict[str, Generator]) -> Teller:
    """The Teller of the bot whose user id is `me` (known once it has logged in): its stories are
    read back out of the messages, a command's seed being its text without the options."""
    chains = Chains(me, settings.command_prefix, settings.max_seed_chars, lambda text: parse_options(text).seed)
    return Teller(generators, Gate(settings.cooldown, settings.guild_concurrency), settings, chains)


def model_command(cog: AliceCog, name: str) -> commands.HybridCommand:
    """`!<name> <seed>` (and `/<name>`): the same as !alice, written by the model `name`."""

    @app_commands.describe(**DESCRIBE)
    async def write(ctx: commands.Context, *, seed: str = "", temperature: float | None = None,
                    length: int | None = None, words: Literal["lexicon", "free"] | None = None,
                    best: int | None = None, case: Literal["book", "lower"] | None = None) -> None:
        await cog.write(ctx, name, Asked(seed, temperature, length, words, best, case))

    book = corpus_name(cog.generators[name].loaded.config)
    prefix = cog.settings.command_prefix
    description = f"Continue your text in the voice of {book}"[:100]
    help_text = f"{description}: {prefix}{name} --temp 0.5 --len 400 --words free --best 4 <seed>"
    return commands.HybridCommand(write, name=name, help=help_text, description=description)
