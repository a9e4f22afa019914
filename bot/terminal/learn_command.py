"""The terminal's `/learn FILE|gutenberg:N NAME [--minutes M] [--replace]`: trains the book in the
background while you keep talking (bot/learn/training_job.py), shows how far it is in the bottom toolbar and
says in one line when it is done; `/model NAME` then talks to it. `/learn stop` cancels.

New models go to ALICE_MODELS_DIR, or `models` in the user's data folder when it is not set.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from bot.learn.lesson import LearnError
from bot.learn.start import Book, Shelf, start_lesson
from bot.learn.training_job import LearnJob
from bot.settings import Settings
from engine.gutenberg_spec import is_gutenberg

USAGE = "/learn FILE|gutenberg:N NAME [--minutes M] [--replace]"


def models_folder(settings: Settings) -> Path:
    """Where /learn puts new models: ALICE_MODELS_DIR, else `models` in the user's data folder."""
    if settings.models_dir:
        return Path(settings.models_dir).expanduser()
    from platformdirs import user_data_dir

    return Path(user_data_dir("alice")) / "models"


def typed_book(words: list[str]) -> Book:
    """The book of `/learn BOOK NAME`: gutenberg:N, or a text file (named to people as typed)."""
    if len(words) != 2:
        raise LearnError(f"usage: {USAGE}")
    book = words[0]
    if is_gutenberg(book):
        return Book(book, shown=book)
    path = Path(book).expanduser()
    if not path.is_file():
        raise LearnError(f"{book}: no such file")
    return Book(str(path.resolve()), shown=book, size=path.stat().st_size)


class TerminalLearner:
    """The REPL's one training run at a time. `notify(line)` says how a run ended (from the run's
    thread); `on_change()` is called on each progress report (the terminal redraws its toolbar)."""

    def __init__(self, settings: Settings, notify: Callable[[str], None],
                 on_change: Callable[[], None] | None = None) -> None:
        self.settings, self.notify = settings, notify
        self.on_change = on_change or (lambda: None)
        self.job: LearnJob | None = None
        self._told = True  # whether the current job's end has been said

    @property
    def running(self) -> bool:
        return self.job is not None and not self.job.done

    def command(self, arg: str) -> str:
        """Act on `/learn arg`; the one line to print."""
        if arg.strip().lower() == "stop":
            return self.stop()
        if not arg.strip():
            return self.toolbar() or f"usage: {USAGE}; /learn stop cancels"
        try:
            return self.start(arg)
        except LearnError as exc:
            return f"/learn: {exc}"

    def start(self, arg: str) -> str:
        if self.running:
            raise LearnError(f"already learning {self.job.lesson.name} ({self.job.progress.describe()}); "
                             f"/learn stop cancels it")
        shelf = Shelf.of(self.settings, models_folder(self.settings))
        job = asyncio.run(start_lesson(arg, shelf, typed_book, on_change=self._changed))
        self.job, self._told = job, False
        lesson = job.lesson
        return f"learning {lesson.name} from {lesson.title} in the background (progress below; /learn stop cancels)"

    def stop(self) -> str:
        job = self.job
        if job is None or job.done:
            return "/learn stop: nothing is being learnt"
        self._told = True  # said here, not from the run's thread
        job.cancel()
        outcome = job.wait(60)
        return outcome.message if outcome else f"stopping {job.lesson.name}…"

    def _changed(self) -> None:
        """From the run's thread: redraw, and say once how the run ended."""
        job = self.job
        if job is not None and job.done and not self._told:
            self._told = True
            outcome = job.outcome
            if outcome is not None and outcome.path is not None:
                self.notify(f"{outcome.message}; /model {job.lesson.name} talks to it")
            elif outcome is not None:
                self.notify(outcome.message)
        self.on_change()

    def toolbar(self) -> str | None:
        """`learning holmes: 42% · 1.62 bits/char · about 2 min left`, while a run is going."""
        if not self.running:
            return None
        progress = self.job.progress
        return f"learning {self.job.lesson.name}: {progress.describe() if progress.first else 'starting'}"

    def resolve(self, model: str) -> str:
        """`/model` takes a folder, or the name of a model in the models folder."""
        if Path(model).expanduser().exists():
            return model
        named = models_folder(self.settings) / model.lower()
        return str(named) if named.is_dir() else model

    def close(self) -> None:
        """Leaving the terminal stops a run (nothing of it is kept)."""
        if self.running:
            self._told = True
            self.job.cancel()
            self.job.wait(30)
