"""Discord's `!learn` (teach the bot a new book while it keeps answering), `!learn stop`, and the
owner's `!reload` (serve model folders added to ALICE_MODELS_DIR by hand, without a restart).

Who may teach: the application's owner, and members with the role named in ALICE_LEARN_ROLE. One
book at a time: a second `!learn` is told what is being learnt and to wait. The training itself
(child process, progress, publishing) is bot/learn/training_job.py; serving the new model is the bot's
`serve` callable (bot/discord_app/alice_bot.py), given to this cog so that it never reaches into the bot.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path

import discord
from discord.ext import commands

from bot.discord_app.channel_output import echo, edit, send, unpathed
from bot.discord_app.streaming_reply import REQUEST_ERRORS, describe
from bot.learn.lesson import LearnError, Lesson
from bot.learn.start import Book, Shelf, start_lesson
from bot.learn.training_job import UPLOAD, LearnJob, check_book, duration
from bot.settings import Settings
from engine.gutenberg_spec import gutenberg_number

log = logging.getLogger(__name__)

MIN_EDIT_S = 0.5  # a status edit at most this often, whatever ALICE_EDIT_INTERVAL says


def sentence(text: str) -> str:
    """A one-line message as a sentence: capital first letter, final full stop."""
    text = text.strip()
    text = text[:1].upper() + text[1:]
    return text if text.endswith((".", "!", "?", ")")) else text + "."


def lesson_line(line: str, from_train: bool = False) -> str:
    """A lesson's one-line message as the channel sees it: a sentence, people's words in it escaped,
    and, when it quotes `python -m train`, the server's paths cut (the log has them whole)."""
    line = sentence(line)
    return echo(unpathed(line) if from_train else line)


class LearnCog(commands.Cog, name="Learning"):
    """Teaches the bot new books from the chat."""

    def __init__(self, bot: commands.Bot, settings: Settings, serve: Callable[[str, Path], Awaitable[object]],
                 rescan: Callable[[], Awaitable[list[str]]]) -> None:
        self.bot, self.settings, self.serve, self.rescan = bot, settings, serve, rescan
        self.job: LearnJob | None = None
        self.watcher: asyncio.Task | None = None
        self.starting = asyncio.Lock()  # two !learn at once: the second sees the first's run

    async def cog_unload(self) -> None:
        """The bot is closing: stop a run (nothing of it is kept)."""
        if self.job is not None and not self.job.done:
            self.job.cancel()
            await asyncio.to_thread(self.job.wait, 30)
        if self.watcher is not None:
            self.watcher.cancel()

    @commands.command(name="learn")
    async def learn(self, ctx: commands.Context, *, text: str = "") -> None:
        """Teach me a book: !learn gutenberg:N NAME [--minutes M] [--replace], or attach a .txt file and
        write !learn NAME; !learn stop cancels (the bot's owner, or members with the learning role)."""
        stopping = text.strip().lower() == "stop"
        if not await self.allowed(ctx):
            role = self.settings.learn_role.strip()
            who = f"the bot's owner and members with the role {echo(role)}" if role else "the bot's owner"
            await self.answer(ctx, f"Only {who} can {'stop a lesson' if stopping else 'teach me a book'}.")
            return
        try:
            if stopping:
                await self.stop(ctx)
            else:
                async with self.starting:
                    await self.start(ctx, text)
        except LearnError as exc:
            await self.answer(ctx, lesson_line(str(exc), exc.from_train))

    @commands.command(name="reload")
    @commands.is_owner()
    async def reload(self, ctx: commands.Context) -> None:
        """Serve the model folders added to ALICE_MODELS_DIR since the start (bot owner only)."""
        added = await self.rescan()
        prefix = ctx.clean_prefix
        if added:
            names = ", ".join(f"`{prefix}{name}`" for name in added)
            await self.answer(ctx, f"Now serving {names} (the slash commands after `{prefix}sync`).")
        else:
            await self.answer(ctx, "No new models in the models folder.")

    async def allowed(self, ctx: commands.Context) -> bool:
        if await self.bot.is_owner(ctx.author):
            return True
        role = self.settings.learn_role.strip()
        return bool(role) and any(r.name == role for r in getattr(ctx.author, "roles", ()))

    async def answer(self, ctx: commands.Context, text: str) -> None:
        with contextlib.suppress(*REQUEST_ERRORS):  # Discord trouble: nothing more to say it with
            await send(ctx, text)

    # -- !learn ----------------------------------------------------------------------------------

    async def start(self, ctx: commands.Context, text: str) -> None:
        """Check everything that can be checked here, then start the child and the status message."""
        if self.job is not None and not self.job.done:
            raise LearnError(f"I am already learning {self.job.lesson.name} ({self.job.progress.describe()}): one "
                             f"book at a time; {ctx.clean_prefix}learn stop cancels it")
        if not self.settings.models_dir:
            raise LearnError("I keep new models in ALICE_MODELS_DIR, which is not set (the bot's owner can set it)")
        shelf = Shelf.of(self.settings, Path(self.settings.models_dir).expanduser(), self.bot.all_commands)
        attachments = ctx.message.attachments if ctx.message is not None else []
        usage = (f"write {ctx.clean_prefix}learn gutenberg:N NAME [--minutes M] [--replace], or attach a .txt file "
                 f"and write {ctx.clean_prefix}learn NAME")
        status: list[discord.Message] = []

        def book_of(words: list[str]) -> Book:
            if len(words) != (1 if attachments else 2):
                raise LearnError(usage)
            if attachments:
                attachment = self.check_attachment(attachments)
                return Book("", attachment.filename, attachment.size, partial(self.save_upload, attachment))
            try:
                number = gutenberg_number(words[0])
            except ValueError:
                number = None
            if number is None:
                raise LearnError(f"{words[0][:60]} is not a book I can fetch: {usage}")
            return Book(words[0].lower())

        async def announce(lesson: Lesson) -> None:
            await asyncio.to_thread(check_book, lesson, shelf.train_args)  # refused here: no status message first
            status.append(await send(ctx, f"Learning **{echo(lesson.name)}** from {echo(lesson.title)}: starting…",
                                     reference=ctx.message, mention_author=False))

        self.job = await start_lesson(text, shelf, book_of, announce)
        self.watcher = asyncio.create_task(self.watch(self.job, status[0], ctx.clean_prefix))

    def check_attachment(self, attachments: list[discord.Attachment]) -> discord.Attachment:
        """The one attached book, if it is a text file within the size cap."""
        if len(attachments) > 1:
            raise LearnError("attach one book at a time")
        attachment = attachments[0]
        kind = (attachment.content_type or "text/plain").split(";")[0].strip().lower()
        if not attachment.filename.lower().endswith(".txt") or not kind.startswith("text/"):
            raise LearnError(f"the file {attachment.filename[:80]} is not a plain-text book: attach a .txt file")
        cap = self.settings.learn_upload_mb
        if attachment.size > cap * 2**20:
            raise LearnError(f"the file {attachment.filename[:80]} is {attachment.size / 2**20:,.1f} MB; "
                             f"I take books up to {cap:g} MB")
        return attachment

    async def save_upload(self, attachment: discord.Attachment, out: Path) -> Path:
        """The attachment's bytes in the run's folder, under its own (tamed) file name."""
        try:
            data = await attachment.read()
        except REQUEST_ERRORS as exc:
            raise LearnError(f"could not download {attachment.filename[:80]}: {describe(exc)}") from None
        if len(data) > self.settings.learn_upload_mb * 2**20:
            raise LearnError(f"the file {attachment.filename[:80]} is over {self.settings.learn_upload_mb:g} MB")
        name = re.sub(r"[^\w.-]+", "_", attachment.filename)[-80:].lstrip(".") or "book.txt"
        path = out / UPLOAD / name
        path.parent.mkdir()
        await asyncio.to_thread(path.write_bytes, data)
        return path

    async def watch(self, job: LearnJob, status: discord.Message, prefix: str) -> None:
        """Edit the status message as the run goes, then serve the model and say how it ended."""
        lesson, shown = job.lesson, status.content
        head = f"Learning **{echo(lesson.name)}** from {echo(lesson.title)}"
        while not job.done:
            await asyncio.sleep(max(self.settings.edit_interval, MIN_EDIT_S))
            text = f"{head}: {job.progress.describe()}"
            if text != shown and not job.done:
                await self.edit(status, text)
                shown = text
        outcome = job.outcome
        if outcome is None or outcome.path is None:
            await self.edit(status, lesson_line(outcome.message if outcome else f"could not learn {lesson.name}", True))
            return
        final = (f"Learned **{echo(lesson.name)}** from {echo(lesson.title)} in {duration(outcome.seconds)}: "
                 f"{outcome.bpc:.3f} bits/char. Talk to it with `{prefix}{lesson.name} <text>` "
                 f"(and `/{lesson.name}` once the owner has run `{prefix}sync`).")
        try:
            await self.serve(lesson.name, outcome.path)
        except Exception as exc:  # the folder is in place: a restart serves it
            log.exception("serving %s failed", outcome.path)
            final = (f"Learned **{echo(lesson.name)}** ({outcome.bpc:.3f} bits/char), but could not serve it now "
                     f"({echo(unpathed(str(exc)[:200]))}); it will be served after a restart.")
        await self.edit(status, final)

    async def edit(self, status: discord.Message, text: str) -> None:
        try:
            await edit(status, text)
        except REQUEST_ERRORS as exc:  # a missed status edit is no reason to stop the run
            log.warning("could not edit the learning status (%s)", describe(exc))

    async def stop(self, ctx: commands.Context) -> None:
        job = self.job
        if job is None or job.done:
            raise LearnError("I am not learning any book now")
        job.cancel()
        outcome = await asyncio.to_thread(job.wait, 60)
        await self.answer(ctx, lesson_line(outcome.message if outcome else f"stopping {job.lesson.name}…", True))
