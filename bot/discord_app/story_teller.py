"""Writing a story's next reply on Discord, and the buttons under replies.

A reply streams in with a Stop button and ends with Continue and Again (bot/discord_app/buttons.py). A press
of Continue writes the story's next reply (a new message answering this one, quoting nothing);
Again writes this reply anew from the same story; Stop ends the writing (only for the person who
asked for the reply). Presses pass the same cooldown and per-server cap as commands.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from functools import partial

import discord

from bot.discord_app.buttons import StoryButtons
from bot.discord_app.channel_output import NO_MENTIONS, answer, echo
from bot.discord_app.rate_limits import REFUSALS, Gate
from bot.discord_app.reply_chain import Chains
from bot.discord_app.streaming_reply import REQUEST_ERRORS, describe, parse_reply, render, room_for_text, stream_into
from bot.settings import Settings
from bot.write_request import WriteRequest
from engine import Conversation, Generator, Sampling
from engine.bestof import best_of_in_use
from engine.endings import target_within

log = logging.getLogger(__name__)

NOT_YOURS = "Only the person who asked for this reply can stop it."
STILL_WRITING = "I am still writing this reply; press Stop first to write it again."


@dataclass
class Writing:
    """A reply being written: who asked for it, and the switch that stops it."""

    requester: int
    stop: asyncio.Event


class Teller:
    """Streams stories into replies, and answers the buttons under them. `generators` is the bot's
    own dict (command name -> Generator), shared, not copied; `gate` is the one commands pass too."""

    def __init__(self, generators: dict[str, Generator], gate: Gate, settings: Settings, chains: Chains) -> None:
        self.generators, self.gate, self.settings, self.chains = generators, gate, settings, chains
        self.buttons = StoryButtons(self)  # presses come back to `press`
        self.writing: dict[int, Writing] = {}  # message id -> the reply being written into it

    def sampling_now(self, model: str) -> Sampling:
        """The default settings for a reply starting now: best-of K lowered while the model is busy
        (engine/bestof.py's load rule, counting this reply)."""
        default = self.settings.sampling()
        streams = self.generators[model].active_streams + 1
        return replace(default, best_of=best_of_in_use(default.best_of, streams))

    def asked_now(self, model: str, requester: int, seed: str = "") -> WriteRequest:
        """What a reply by `model` starting now is written with unless its asker says otherwise."""
        return WriteRequest.by_settings(self.settings, seed, model=model, requester=requester,
                                        sampling=self.sampling_now(model))

    async def tell(self, message: discord.Message, request: WriteRequest, story: Awaitable[Conversation],
                   resend: Callable[..., Awaitable[object]] | None = None, shown: str | None = None) -> None:
        """Stream the continuation of `story` into `message` (already showing `shown`, default the seed,
        and a cursor), ending with the Continue and Again buttons. Stop works from the start, while the
        story is still being read back out of the messages. With `request.talk`, the continuation is
        that character's answer (engine/dialogue.py)."""
        shown = request.seed if shown is None else shown
        stop = asyncio.Event()
        self.writing[message.id] = Writing(request.requester, stop)
        try:
            story = await story
            fits = target_within(room_for_text(shown), request.exact)  # the whole reply fits one message
            request = request.but(length=min(request.length, fits))
            chunks = request.astream(self.generators[request.model], story)
            view = self.buttons.finished(request.model, request.talk)
            await stream_into(message, until(stop, chunks), partial(render, shown),
                              self.settings.edit_interval, resend=resend and partial(resend, view=view), view=view)
        finally:
            self.writing.pop(message.id, None)

    # -- buttons ----------------------------------------------------------------------------

    async def press(self, interaction: discord.Interaction, action: str, model: str, talk: str | None) -> None:
        """Answer a press of one of the buttons under `interaction.message` (`talk`: the character whose
        answer it is)."""
        if action == "stop":
            await self._stop(interaction, model, talk)
            return
        if model not in self.generators:
            await _answer(interaction, f"I no longer write as {echo(model)}.")
            return
        if action == "again" and interaction.message.id in self.writing:
            await _answer(interaction, STILL_WRITING)
            return
        server = interaction.guild_id or interaction.channel_id
        try:
            with self.gate.slot(interaction.user.id, server):
                await (self._continue if action == "continue" else self._again)(interaction, model, talk)
        except REFUSALS as refusal:
            await _answer(interaction, self.gate.refusal(refusal))

    async def _continue(self, interaction: discord.Interaction, model: str, talk: str | None) -> None:
        """The story goes on in a new reply to this one, showing only the new text (after an answer:
        its character speaks again)."""
        await interaction.response.defer()  # the new reply is the answer
        previous = interaction.message
        reply = await previous.reply(render("", "", False), view=self.buttons.writing(model, talk),
                                     allowed_mentions=NO_MENTIONS,
                                     mention_author=False)
        request = self.asked_now(model, interaction.user.id).but(talk=talk)
        await self.tell(reply, request, self.chains.story_through(previous),
                        resend=partial(previous.channel.send, allowed_mentions=NO_MENTIONS))

    async def _again(self, interaction: discord.Interaction, model: str, talk: str | None) -> None:
        """This reply is written anew from the story it continued."""
        message = interaction.message
        seed, _ = parse_reply(message.content)
        await interaction.response.edit_message(content=render(seed, "", False), view=self.buttons.writing(model, talk),
                                                allowed_mentions=NO_MENTIONS)
        if talk is None:
            request, story = self.asked_now(model, interaction.user.id, seed), self.chains.story_before(message)
        else:  # the same person's line, answered anew by the same character
            request = self.asked_now(model, interaction.user.id).but(talk=talk)
            story = self.chains.story_before_answer(message)
        await self.tell(message, request, story, resend=partial(message.channel.send, allowed_mentions=NO_MENTIONS),
                        shown=seed)

    async def _stop(self, interaction: discord.Interaction, model: str, talk: str | None) -> None:
        writing = self.writing.get(interaction.message.id)
        if writing is None:  # written before a restart (or just finished): the reply ends as it stands
            seed, text = parse_reply(interaction.message.content)
            await interaction.response.edit_message(content=render(seed, text, True),
                                                    view=self.buttons.finished(model, talk),
                                                    allowed_mentions=NO_MENTIONS)
        elif interaction.user.id != writing.requester:
            await _answer(interaction, NOT_YOURS)
        else:
            writing.stop.set()
            await interaction.response.defer()  # the reply's own final edit shows the end


async def until(stop: asyncio.Event, chunks: AsyncIterator[str]) -> AsyncIterator[str]:
    """`chunks` until `stop` is set (looked at as each chunk arrives); closing this closes `chunks`."""
    try:
        async for chunk in chunks:
            if stop.is_set():
                return
            yield chunk
    finally:
        aclose = getattr(chunks, "aclose", None)
        if aclose is not None:  # frees the engine's slot at once
            await aclose()


async def _answer(interaction: discord.Interaction, text: str) -> None:
    """Tell only the presser (an ephemeral message); a failure is logged, not raised."""
    try:
        await answer(interaction, text)
    except REQUEST_ERRORS as exc:
        log.warning("could not answer a button press (%s)", describe(exc))
