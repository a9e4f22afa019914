"""The Discord commands: `!alice` (also `/alice`), one command per extra model, `!models`, `!sync`.

`!alice <text>` sent as a reply to one of the bot's replies (or a reply that mentions the bot) adds
`<text>` to that reply's story and continues it (bot/discord_app/reply_chain.py, bot/discord_app/story_teller.py)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from functools import partial
from typing import Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.command_names import MAIN_MODEL
from bot.discord_app.buttons import model_of, talk_of
from bot.discord_app.channel_output import NO_MENTIONS, echo, send
from bot.discord_app.command_options import DESCRIBE, TALK, CommandOptions, Refused, parse_options, said_to
from bot.discord_app.rate_limits import REFUSALS, Gate
from bot.discord_app.reply_chain import Chains, without_mentions
from bot.discord_app.story_teller import Teller
from bot.discord_app.streaming_reply import MESSAGE_LIMIT, REQUEST_ERRORS, describe, render
from bot.model_info import corpus_name, model_line
from bot.settings import Settings
from bot.write_request import WriteRequest, cast_of
from engine import Conversation, Generator
from engine.dialogue import DialogueError, said_line

log = logging.getLogger(__name__)

TYPING_EVERY = 8.0  # seconds; Discord shows "typing…" for about 10 s after each request


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

    def __init__(self, bot: commands.Bot, settings: Settings, generators: dict[str, Generator],
                 teller: Teller, rescan: Callable[[], Awaitable[object]]) -> None:
        self.bot, self.settings, self.generators, self.teller = bot, settings, generators, teller
        self.rescan = rescan  # serves model folders added since the start

    @commands.hybrid_command(name=MAIN_MODEL, description="Continue your text in the voice of the book")
    @app_commands.describe(**DESCRIBE)
    async def alice(self, ctx: commands.Context, *, seed: str = "", temperature: float | None = None,
                    length: int | None = None, words: Literal["lexicon", "free"] | None = None,
                    best: int | None = None, case: Literal["book", "lower"] | None = None) -> None:
        """Continue your text in the book's voice: !alice --temp 0.5 --len 400 --words free --best 4 <seed>"""
        await self.write(ctx, MAIN_MODEL, CommandOptions(seed, temperature, length, words, best, case))

    async def characters(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        """/ask's `character` choices: the characters of its `model` option's book (default: alice's)
        whose names hold what was typed so far."""
        return character_choices(self.generators, _model_name(interaction.namespace.model), current)

    async def served(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        """/ask's `model` choices: the models served whose names hold what was typed so far."""
        return [app_commands.Choice(name=name, value=name) for name in self.generators
                if current.strip().lower() in name][:25]

    @commands.hybrid_command(name="ask", description="Say something to a character of the book, who answers")
    @app_commands.describe(character="whom you talk to: one of the book's characters (or anyone)",
                           words="what you say to them",
                           model=f"whose book the character is in: one of the models served (default {MAIN_MODEL})")
    @app_commands.autocomplete(character=characters, model=served)
    async def ask(self, ctx: commands.Context, character: str = "", *, words: str = "",
                  model: str = MAIN_MODEL) -> None:
        """Say something to a character of the book, who answers: !ask hatter: Who are you?"""
        if ctx.interaction is None:  # the text form is `NAME: WORDS`, options first: read as one text
            await self.write(ctx, await self.replied_model(ctx), CommandOptions(f"{character} {words}", talk=""))
            return
        if _model_name(model) not in self.generators:
            shown = echo(" ".join(model.split())[:40])
            raise Refused(f"I serve no model called {shown}; `{ctx.clean_prefix}models` lists them.")
        await self.write(ctx, _model_name(model), CommandOptions(words, talk=character))

    @commands.hybrid_command(name="models")
    async def models(self, ctx: commands.Context) -> None:
        """List the books I can write like, with how well each was learnt (bits/char: lower is better)."""
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

    async def write(self, ctx: commands.Context, model: str, options: CommandOptions) -> None:
        """Reply at once, then stream the model's continuation of the seed into the reply."""
        if ctx.interaction is None:  # text command: options are written inside the message
            asking = options.talk == ""  # !ask: `NAME: WORDS` after the options
            options = parse_options(options.seed)
            if asking and options.talk is None:
                options = said_to(options, await self.answered(ctx), ctx.clean_prefix)
        # the defaults of a reply starting now (best-of K lowered under load, unless asked for)
        request = options.request(self.teller.asked_now(model, ctx.author.id), self.settings.max_length)
        shown, request = self.said(request)
        server = ctx.guild.id if ctx.guild else ctx.channel.id
        with self.teller.gate.slot(ctx.author.id, server):
            message = await ctx.reply(render(shown, "", False), view=self.teller.buttons.writing(model, request.talk),
                                      allowed_mentions=NO_MENTIONS, mention_author=False)
            async with typing_while(ctx):
                story = self.story_for(ctx, "" if request.talk else request.seed)  # an answer adds the said line
                await self.teller.tell(message, request, story, resend=partial(ctx.send, allowed_mentions=NO_MENTIONS),
                                       shown=shown)

    def said(self, request: WriteRequest) -> tuple[str, WriteRequest]:
        """What a reply shows above the text (the seed, or the person's line said to a character:
        `“Who are you?” said Alice.`) and the request, its character named as the book spells it (the
        reply's buttons carry that name); Refused, in one line, for a dialogue turn that cannot be taken."""
        if request.talk is None:
            return request.seed, request
        try:
            if not request.seed.strip():
                raise DialogueError("say something: the question is empty")
            address = request.address(cast_of(self.generators[request.model]))
        except DialogueError as exc:
            raise Refused(echo(_sentence(exc))) from None
        return said_line(address.words, address.speaker).strip(), request.but(talk=address.character)

    async def replied_model(self, ctx: commands.Context) -> str:
        """The model that wrote the bot's reply this text command replies to, if it is still served (a
        reply goes on with it); else the main model."""
        parent = await self.teller.chains.parent(ctx.message)
        model = model_of(parent) if parent is not None and parent.author.id == self.bot.user.id else None
        return model if model in self.generators else MAIN_MODEL

    async def answered(self, ctx: commands.Context) -> str | None:
        """The character of the bot's answer that this text command replies to (None: it replies to none)."""
        parent = await self.teller.chains.parent(ctx.message)
        if parent is None or parent.author.id != self.bot.user.id:
            return None
        return talk_of(parent)

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
        character = talk_of(parent)  # a reply to an answer is said to its character
        try:
            await self.write(ctx, model if model in self.generators else MAIN_MODEL,
                             CommandOptions(text if character is None else f"--talk {character}: {text}"))
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


def character_choices(generators: dict[str, Generator], model: str, current: str) -> list[app_commands.Choice[str]]:
    """Autocomplete choices: the characters of `model`'s book whose names hold `current` (none for a
    model not served)."""
    generator = generators.get(model)
    names = cast_of(generator).names if generator is not None else []
    return [app_commands.Choice(name=name, value=name) for name in names if current.lower() in name.lower()][:25]


def _model_name(typed: str | None) -> str:
    """A model's command name as typed in a slash option (none: the main model)."""
    return (typed or "").strip().lower() or MAIN_MODEL


def _sentence(error: Exception) -> str:
    """A one-line error as a sentence: capitalized, with a full stop."""
    text = str(error)
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


def make_teller(me: int, settings: Settings, generators: dict[str, Generator]) -> Teller:
    """The Teller of the bot whose user id is `me` (known once it has logged in): its stories are
    read back out of the messages, a command's seed being its text without the options."""
    chains = Chains(me, settings.command_prefix, settings.max_seed_chars, lambda text: parse_options(text).seed)
    return Teller(generators, Gate(settings.cooldown, settings.guild_concurrency), settings, chains)


def model_command(cog: AliceCog, name: str) -> commands.HybridCommand:
    """`!<name> <seed>` (and `/<name>`): the same as !alice, written by the model `name`."""

    async def characters(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        return character_choices(cog.generators, name, current)  # this model's book's characters

    @app_commands.describe(**DESCRIBE, talk=TALK)
    @app_commands.autocomplete(talk=characters)
    async def write(ctx: commands.Context, *, seed: str = "", temperature: float | None = None,
                    length: int | None = None, words: Literal["lexicon", "free"] | None = None,
                    best: int | None = None, case: Literal["book", "lower"] | None = None,
                    talk: str | None = None) -> None:
        await cog.write(ctx, name, CommandOptions(seed, temperature, length, words, best, case, talk))

    book = corpus_name(cog.generators[name].loaded.config)
    prefix = cog.settings.command_prefix
    description = f"Continue your text in the voice of {book}"[:100]
    help_text = (f"{description}: {prefix}{name} --temp 0.5 --len 400 --words free --best 4 <seed>; "
                 f"{prefix}{name} --talk NAME: WORDS says WORDS to a character of the book")
    return commands.HybridCommand(write, name=name, help=help_text, description=description)
