"""The streaming reply: one Discord message that grows as the model writes.

`render` turns (seed, continuation) into safe message text under Discord's 2,000-character
limit (`parse_reply` reads them back out of it); `stream_into` edits a message as chunks arrive,
at most once per interval, and ends with one final edit holding the whole text (and the finished
reply's buttons). Whatever fails on the way, the cursor never stays: a lost
frame is caught up by the next one, and a final edit Discord keeps refusing is replaced by a note
in place of the cursor or by the whole text as a new message. A reply someone deleted while it was
written is the one exception: the generation ends there and nothing is posted again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Protocol

import aiohttp
import discord

from bot.discord_app.channel_output import NO_MENTIONS, echo

log = logging.getLogger(__name__)

MESSAGE_LIMIT = 2000  # Discord refuses longer message content
SEED_SHOWN = 300  # longer seeds are shown by their tail (the model reads the whole seed)
CURSOR = "\u258c"  # marks a reply that is still being written
ELLIPSIS = "\u2026"
MAX_SLOWDOWN = 8  # a rate-limited reply edits at most this many times slower than asked
FINAL_TRIES = 5
FINAL_PATIENCE = 60.0  # seconds of retrying the final edit (discord.py retries each 5xx for 25 s itself)
STOPPED = f"{ELLIPSIS} (stopped: Discord error)"  # in place of the cursor when Discord refused the rest
STOPPED_WRITING = f"{ELLIPSIS} (stopped: error while writing)"  # ... when the generation failed
UNKNOWN_MESSAGE = 10008  # Discord's error code for a message that no longer exists (deleted)
# how a request to Discord fails: an HTTP error answer, or the connection under it
REQUEST_ERRORS = (discord.HTTPException, discord.RateLimited, aiohttp.ClientError, OSError, asyncio.TimeoutError)


def describe(error: BaseException) -> str:
    """A failed request in a few words for the log: no URL (an interaction's has its token)."""
    if isinstance(error, discord.HTTPException):
        return f"HTTP {error.status}, Discord code {error.code}" if error.code else f"HTTP {error.status}"
    return type(error).__name__


def may_pass(error: BaseException) -> bool:
    """Whether the same request may succeed later: server trouble, a rate limit, a lost connection;
    not a 4xx, which Discord would answer again."""
    return not isinstance(error, discord.HTTPException) or error.status >= 500 or error.status == 429


def deleted(error: BaseException) -> bool:
    """Whether a failed edit says the message is gone: someone (a moderator, its asker) deleted it."""
    return isinstance(error, discord.NotFound) and error.code == UNKNOWN_MESSAGE


def seed_part(seed: str) -> str:
    """The seed in bold (escaped, so it cannot close the bold early), plus the whitespace
    that followed it; empty for an empty seed."""
    shown = seed.strip()
    if not shown:
        return ""
    if len(shown) > SEED_SHOWN:
        shown = ELLIPSIS + shown[-SEED_SHOWN:].lstrip()
    trailing = seed[len(seed.rstrip()):]
    return f"**{echo(shown)}**{trailing}"


def room_for_text(seed: str) -> int:
    """How many characters of continuation fit after the seed (escaping aside)."""
    return MESSAGE_LIMIT - len(seed_part(seed)) - len(CURSOR) - len(ELLIPSIS)


def render(seed: str, text: str, done: bool, note: str = "") -> str:
    """Message content for `seed` followed by `text`; a cursor while not `done`, `note` in its place."""
    head, body = seed_part(seed), echo(text)
    tail = note or ("" if done else CURSOR)
    room = MESSAGE_LIMIT - len(head) - len(tail)
    if len(body) > room:  # only when escaping grew the text past what was budgeted
        body = body[: room - len(ELLIPSIS)].rstrip("\\") + ELLIPSIS
    content = head + body + tail
    return content if content.strip() else ELLIPSIS  # Discord refuses empty content


_SEED_PART = re.compile(r"\*\*((?:\\.|[^\\*])*)\*\*")  # bold, with every * and \\ inside escaped
_ENDINGS = (CURSOR, STOPPED, STOPPED_WRITING)


def unescaped(text: str) -> str:
    """The text `echo` was given: escaping backslashes and the mention breakers taken out."""
    return re.sub(r"\\(.)", r"\1", text.replace("@\u200b", "@"), flags=re.DOTALL)


def parse_reply(content: str) -> tuple[str, str]:
    """(seed as shown, continuation) of a message `render` wrote: the inverse of `render` for text
    that fitted (a long seed is shown by its tail only; its whole text is in the asking message)."""
    for ending in _ENDINGS:
        content = content.removesuffix(ending)
    if content == ELLIPSIS:
        return "", ""
    seed = _SEED_PART.match(content)
    if seed is None:
        return "", unescaped(content)
    return unescaped(seed[1]), unescaped(content[seed.end():])


class Renderer(Protocol):
    """`render` with the seed filled in."""

    def __call__(self, text: str, done: bool, note: str = "") -> str: ...


class _Stream:
    """Edit state of one reply: what is written, what is shown, when the next edit may go."""

    def __init__(self, message: discord.Message, render: Renderer, interval: float,
                 view: discord.ui.View | None = None) -> None:
        self.message, self.render = message, render
        self.view = view  # the buttons the finished reply gets (None: the message keeps its own)
        self.base_interval = self.interval = interval
        self.text = ""
        self.shown = ""  # the text of the last frame Discord accepted
        self.wake = asyncio.Event()  # set on every new chunk and at the end
        self.finished = asyncio.Event()
        self.next_edit = time.monotonic() + interval  # the reply itself was the first send
        self.deleted = False  # an edit found the message gone: nothing more is written or posted

    def add(self, chunk: str) -> None:
        self.text += chunk
        self.wake.set()

    def finish(self) -> None:
        self.finished.set()
        self.wake.set()

    async def edit(self, content: str, final: bool = False) -> None:
        started = time.monotonic()
        extra = {"view": self.view} if final and self.view is not None else {}
        try:
            await self.message.edit(content=content, allowed_mentions=NO_MENTIONS, **extra)
        except REQUEST_ERRORS as exc:
            if deleted(exc):
                self.deleted = True
                log.warning("reply %s was deleted while it was being written; its generation ends there",
                            self.message.id)
                raise
            # a 429 discord.py gave up on, a 5xx, a dropped connection: the next edit comes later
            log.warning("edit of a streaming reply failed (%s); slowing down", describe(exc))
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
            if self.finished.is_set() or self.deleted:
                return
            text = self.text
            with contextlib.suppress(*REQUEST_ERRORS):  # a lost frame: the next edit catches up
                await self.edit(self.render(text, False))
                self.shown = text

    async def try_edit(self, content: str, final: bool = True) -> BaseException | None:
        """One edit once the throttle allows (the last edits are throttled too); its error, or None."""
        await asyncio.sleep(max(0.0, self.next_edit - time.monotonic()))
        try:
            await self.edit(content, final)
        except REQUEST_ERRORS as exc:
            return exc
        return None

    async def final_edit(self, content: str) -> BaseException | None:
        """Edit in `content`, trying again while that may help; None once shown, else the last error."""
        deadline = time.monotonic() + FINAL_PATIENCE
        error: BaseException | None = None
        for _ in range(FINAL_TRIES):
            error = await self.try_edit(content)
            if error is None or not may_pass(error) or time.monotonic() > deadline:
                break
        return error

    async def end(self, resend: Callable[[str], Awaitable[object]] | None, note: str = "") -> None:
        """Show the whole text (with `note`, if any); failing that, a note in place of the cursor;
        failing that (or if the reply is no longer ours to edit), the whole text as a new message through
        `resend`. A deleted reply stays deleted: nothing is edited or posted."""
        if self.deleted:
            return
        content = self.render(self.text, True, note)
        error = await self.final_edit(content)
        if error is None or self.deleted:
            return
        failed = f"the final edit of reply {self.message.id} failed ({describe(error)})"
        gone = isinstance(error, (discord.NotFound, discord.Forbidden))  # deleted, or no longer ours to edit
        if not gone and await self.try_edit(self.render(self.shown, True, note or STOPPED)) is None:
            log.error("%s; it ends with a note instead", failed)
        elif resend is not None and await try_send(resend, content):
            # e.g. an interaction's reply whose token expired (Unknown Webhook): no fault of the bot's
            level = logging.WARNING if isinstance(error, discord.NotFound) else logging.ERROR
            log.log(level, "%s; its text went out as a new message", failed)
        else:
            log.error("%s; it could not be ended: the cursor stays", failed)


async def try_send(send: Callable[[str], Awaitable[object]], content: str) -> bool:
    """Post `content` as a new message; False (logged) if Discord refused it."""
    try:
        await send(content)
    except REQUEST_ERRORS as exc:
        log.warning("posting a reply's text as a new message failed (%s)", describe(exc))
        return False
    return True


async def stream_into(message: discord.Message, chunks: AsyncIterator[str], render: Renderer,
                      interval: float, resend: Callable[[str], Awaitable[object]] | None = None,
                      view: discord.ui.View | None = None) -> str:
    """Append `chunks` to `message` (via `render(text, done, note)`), editing at most once per
    `interval` seconds (slower after rate limits and errors), then one final edit with everything
    (see `_Stream.end` for when Discord refuses it; `resend` posts a new message). A failed
    generation ends with a note and raises. Returns the generated text."""
    stream = _Stream(message, render, interval, view)
    editor = asyncio.create_task(stream.edit_loop())
    note = ""
    try:
        async for chunk in chunks:
            stream.add(chunk)
            if stream.deleted:  # nothing to write into: the generation ends (closing `chunks` below)
                break
    except Exception:
        note = STOPPED_WRITING  # the text so far is all there will be: the reply says so
        raise
    finally:
        stream.finish()
        aclose = getattr(chunks, "aclose", None)
        if aclose is not None:  # a failed reply frees the engine's stream at once
            await aclose()
        await editor  # an edit in flight lands before the final one, never after it
        await stream.end(resend, note)
    return stream.text
