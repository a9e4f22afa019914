"""The one way a lesson starts, for the terminal's `/learn` and Discord's `!learn` alike: the line
read, the name, time and room checked, a temp folder made, the book put in it if uploaded, then the
training child started. A refusal is a LearnError, and leaves nothing behind.
"""

from __future__ import annotations

import shlex
import shutil
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from pathlib import Path

from bot.learn.lesson import LearnError, Lesson, check_minutes, check_name, check_room, parse_request, temp_folder
from bot.learn.training_job import LearnJob
from bot.settings import Settings


@dataclass(frozen=True)
class Shelf:
    """Where a front end keeps new models, and the limits its settings put on a lesson."""

    folder: Path
    max_minutes: float = 0.0  # ALICE_LEARN_MINUTES (0: the training defaults)
    disk_mb: float = 0.0  # ALICE_LEARN_DISK_MB (0: no limit)
    train_args: tuple[str, ...] = ()  # ALICE_LEARN_TRAIN_ARGS, split
    taken: frozenset[str] = frozenset()  # the front end's commands: no model may be named after one

    @classmethod
    def of(cls, settings: Settings, folder: Path, taken: Collection[str] = ()) -> Shelf:
        train_args = tuple(shlex.split(settings.learn_train_args))
        return cls(folder, settings.learn_minutes, settings.learn_disk_mb, train_args, frozenset(taken))


@dataclass(frozen=True)
class Book:
    """The book a line names, as the front end found it."""

    spec: str  # what `python -m train` is given: gutenberg:N or a file ("" for an upload, until saved)
    shown: str = ""  # how people named it (a typed path, an attachment's file name); "": `spec`
    size: int = 0  # bytes it adds to the models folder
    save: Callable[[Path], Awaitable[Path]] | None = None  # an upload: writes itself into the run's folder


async def start_lesson(line: str, shelf: Shelf, book_of: Callable[[list[str]], Book],
                       announce: Callable[[Lesson], Awaitable[object]] | None = None,
                       on_change: Callable[[], None] | None = None) -> LearnJob:
    """Read `line` (`BOOK NAME [--minutes M] [--replace]`; `book_of` reads the words other than options
    and says which book they name, or raises LearnError with the front end's usage), check it, and start
    the run. `announce(lesson)` comes last before the child starts (Discord checks the book there and
    posts its status message); `on_change` is the job's progress callback."""
    request = parse_request(line)
    book = book_of(request.words)
    name = check_name(request.words[-1], shelf.folder, shelf.taken, request.replace)
    minutes = check_minutes(request.minutes, shelf.max_minutes)
    check_room(shelf.folder, shelf.disk_mb, book.size)
    out = temp_folder(shelf.folder, name)
    try:
        spec = str(await book.save(out)) if book.save is not None else book.spec
        lesson = Lesson(spec, name, shelf.folder, minutes, request.replace, book.shown)
        if announce is not None:
            await announce(lesson)
        job = LearnJob(lesson, out, shelf.train_args, on_change)
        try:
            job.start()
        except OSError as exc:
            raise LearnError(f"cannot start python -m train: {exc}") from None
    except BaseException:
        shutil.rmtree(out, ignore_errors=True)
        raise
    return job
