"""A Discord story lives in its messages: it is rebuilt from a reply's chain of message references.

A reply of the bot shows its seed (in bold) and its continuation (bot/discord_app/streaming_reply.py) and refers to the
message that asked for it; a reply written by Continue shows only its continuation and refers to
the reply it continues; a person's `!alice <text>` (or a reply mentioning the bot) refers to the
reply whose story it adds to. Walking the references back gives the story, so nothing lives only in
the bot's memory: a story survives a restart, and its buttons keep working.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import discord

from bot.discord_app.buttons import talk_of
from bot.discord_app.streaming_reply import REQUEST_ERRORS, parse_reply
from engine.conversation import MODEL, PERSON, Conversation
from engine.dialogue import as_paragraph

MAX_LINKS = 50  # messages followed at most per story (the model reads only the tail anyway)


class Chains:
    """Rebuilds stories from messages. `window`: the characters a story needs at most (the model's
    seed limit); `seed_of`: the seed in a command's text after its name (options taken out)."""

    def __init__(self, me: int, prefix: str, window: int, seed_of: Callable[[str], str]) -> None:
        self.me, self.prefix, self.window, self.seed_of = me, prefix, window, seed_of

    async def parent(self, message: discord.Message) -> discord.Message | None:
        """The message `message` replies to; None if none, or if it is gone or out of reach."""
        reference = message.reference
        if reference is None or reference.message_id is None:
            return None
        if isinstance(reference.resolved, discord.Message):
            return reference.resolved
        if reference.cached_message is not None:
            return reference.cached_message
        try:
            return await message.channel.fetch_message(reference.message_id)
        except REQUEST_ERRORS:
            return None

    def typed(self, message: discord.Message) -> str:
        """What a person added to the story: the message without mentions of the bot, and without
        the command name and options when it is a command."""
        text = without_mentions(message.content, self.me)
        if text.startswith(self.prefix):
            parts = text[len(self.prefix):].split(maxsplit=1)  # the command's name, then its text
            text = self.seed_of(parts[1] if len(parts) > 1 else "")
        return text

    async def story_through(self, message: discord.Message, uncounted: int = 0) -> Conversation:
        """The story up to and including `message` (one of the bot's replies, or a person's), read back
        until it holds `window` characters besides its newest `uncounted`."""
        turns: list[tuple[str, str]] = []
        current: discord.Message | None = message
        wanted = self.window + uncounted
        while current is not None and len(turns) < MAX_LINKS and sum(len(t) for _, t in turns) < wanted:
            parent = await self.parent(current)
            if current.author.id != self.me:
                turns.append((PERSON, self.typed(current)))
                if parent is not None and parent.author.id != self.me:
                    break  # an answer to someone else's message: the story starts here
            else:
                seed, text = parse_reply(current.content)
                turns.append((MODEL, text))
                if seed and talk_of(current):  # an answer shows the person's line as the story has it
                    turns.append((PERSON, as_paragraph(seed)))
                    if parent is not None and parent.author.id != self.me:  # the asking message: read no further
                        parent = await self.parent(parent)
                        if parent is not None and parent.author.id != self.me:
                            break
                elif seed and (parent is None or parent.author.id == self.me):
                    turns.append((PERSON, seed))  # the asking message is out of reach: its seed as shown
                    break
            current = parent
        return _story(turns)

    async def story_before_answer(self, message: discord.Message) -> Conversation:
        """The story one of the bot's answers (engine/dialogue.py) was written from: up to the person's
        line it answers, read back as far as when it was asked (the answer and the line not counted)."""
        seed, text = parse_reply(message.content)
        story = await self.story_through(message, uncounted=len(text) + len(as_paragraph(seed)))
        story.undo()
        return story

    async def story_before(self, message: discord.Message) -> Conversation:
        """The story one of the bot's replies continued: what it would be written from again."""
        parent = await self.parent(message)
        if parent is not None:
            return await self.story_through(parent)
        seed, _ = parse_reply(message.content)
        return _story([(PERSON, seed)])


def without_mentions(text: str, me: int) -> str:
    """`text` without the mentions of user `me` (both forms, <@id> and <@!id>), stripped."""
    return re.sub(rf"<@!?{me}>", "", text).strip()


def _story(newest_first: list[tuple[str, str]]) -> Conversation:
    story = Conversation()
    for by, text in reversed(newest_first):
        story.add(text, by)
    return story
