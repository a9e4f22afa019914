"""The streaming reply: one Discord message that grows as the model writes.

`render` turns (seed, continuation) into safe message text under Discord's 2,000-character
limit; `stream_into` edits a message as chunks arrive, at most once per interval, and always
ends with one final edit holding the whole text.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import discord

log = logging.getLogger(__name__)

MESSAGE_LIMIT = 2000  # Discord refuses longer message content
SEED_SHOWN = 300  # longer seeds are shown by their tail (the model reads the whole seed)
CURSOR = "\u258c"  # marks a reply that is still being written
ELLIPSIS = "\u2026"
NO_MENTIONS = discord.AllowedMentions.none()
MAX_SLOWDOWN = 8  # a rate-limited reply edits at most this many times slower than asked
FINAL_TRIES = 5


def plain(text: str) -> str:
    """Text shown exactly as written: no markdown, no working mentions."""
    return discord.utils.escape_mentions(discord.utils.escape_markdown(text))


def seed_part(seed: str) -> str:
    """The seed in bold (escaped, so it cannot close the bold early), plus the whitespace
    that followed it; empty for an empty seed."""
    shown = seed.strip()
    if not shown:
        return ""
    if len(shown) > SEED_SHOWN:
        shown = ELLIPSIS + shown[-SEED_SHOWN:].lstrip()
    trailing = seed[len(seed.rstrip()):]
    return f"**{plain(shown)}**{trailing}"


def room_for_text(seed: str) -> int:
    """How many characters of continuation fit after the seed (escaping aside)."""
    return MESSAGE_LIMIT - len(seed_part(seed)) - len(CURSOR) - len(ELLIPSIS)


def render(seed: str, text: str, done: bool) -> str:
    """Message content for `seed` followed by `text`; a cursor while not `done`."""
    head, body = seed_part(seed), plain(text)
    tail = "" if done else CURSOR
    room = MESSAGE_LIMIT - len(head) - len(tail)
    if len(body) > room:  # only when escaping grew the text past what was budgeted
        body = body[: room - len(ELLIPSIS)].rstrip("\\") + ELLIPSIS
    content = head + body + tail
    return content if content.strip() else ELLIPSIS  # Discord refuses empty content


class _Stream:
    """Edit state of one reply: what is written, what is shown, when the next edit may go."""

    def __init__(self, message: discord.Message, render: Callable[[str, bool], str], interval: float) -> None:
        self.message, self.render = message, render
        self.base_interval = self.interval = interval
        self.text = ""
        self.wake = asyncio.Event()  # set on every new chunk and at the end
        self.finished = asyncio.Event()
        self.next_edit = time.monotonic() + interval  # the reply itself was the first send

    def add(self, chunk: str) -> None:
        self.text += chunk
        self.wake.set()

    def finish(self) -> None:
        self.finished.set()
        self.wake.set()

    async def edit(self, content: str) -> None:
        started = time.monotonic()
        try:
            await self.message.edit(content=content, allowed_mentions=NO_MENTIONS)
        except discord.HTTPException as exc:
            # a 429 discord.py gave up on, or a 5xx: this frame is lost, the next comes later
            log.warning("edit of a streaming reply failed (HTTP %s); slowing down", exc.status)
            self.slow_down()
            raise
        else:
            if time.monotonic() - started > self.interval:  # discord.py waited out a 429
                self.slow_down()
        finally:
            self.next_edit = time.monotonic() + self.interval

    def slow_down(self) -> None:
        floor = max(self.base_interval, 0.05)
        self.interval = min(max(self.interval, floor) * 2, floor * MAX_SLOWDOWN)

    async def edit_loop(self) -> None:
        while True:
            delay = self.next_edit - time.monotonic()
            if delay > 0:  # throttle, but wake at once when the stream ends
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self.finished.wait(), delay)
            await self.wake.wait()  # something new to show (or the end)
            self.wake.clear()
            if self.finished.is_set():
                return
            with contextlib.suppress(discord.HTTPException):  # a lost frame: the next edit catches up
                await self.edit(self.render(self.text, False))

    async def final_edit(self, resend: Callable[[str], Awaitable[object]] | None) -> None:
        content = self.render(self.text, True)
        for attempt in range(FINAL_TRIES):
            await asyncio.sleep(max(0.0, self.next_edit - time.monotonic()))  # the final edit is throttled too
            try:
                await self.edit(content)
                return
            except (discord.NotFound, discord.Forbidden):
                break  # the reply is gone: editing again cannot help
            except discord.HTTPException:
                log.warning("final edit failed (try %d of %d)", attempt + 1, FINAL_TRIES)
        if resend is not None:
            await resend(content)


async def stream_into(message: discord.Message, chunks: AsyncIterator[str], render: Callable[[str, bool], str],
                      interval: float, resend: Callable[[str], Awaitable[object]] | None = None) -> str:
    """Append `chunks` to `message` (via `render(text, done)`), editing at most once per `interval`
    seconds (slower after rate limits), then one final edit with everything; if that edit keeps
    failing, `resend` posts the final content as a new message. Returns the generated text."""
    stream = _Stream(message, render, interval)
    editor = asyncio.create_task(stream.edit_loop())
    try:
        async for chunk in chunks:
            stream.add(chunk)
    finally:
        stream.finish()
        aclose = getattr(chunks, "aclose", None)
        if aclose is not None:  # a failed reply frees the engine's stream at once
            await aclose()
        await editor  # an edit in flight lands before the final one, never after it
        await stream.final_edit(resend)
    return stream.text
