"""What to learn and whether it may be learnt: a `/learn` or `!learn` line read into words and
options, the checks on the model's name, the time budget and the models folder's room, and the
hidden temp folder a run writes into. The run itself: bot/learn/training_job.py; the steps in order:
bot/learn/start.py.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import shutil
import tempfile
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from bot.command_names import RESERVED

NAME_RULE = "letters, digits, - and _, at most 32"
_NAME = re.compile(r"[a-z0-9_-]{1,32}")
TEMP_PREFIX = ".learn-"
ROOM_MB = 120.0  # a run's largest footprint: checkpoint (weights + AdamW moments), weights, lexicon, history
_OPTION = re.compile(r"^--(minutes|replace)(?:=(.*))?$")


class LearnError(Exception):
    """A lesson that cannot start (or finish); the message is one line for the user. `from_train`:
    the line quotes `python -m train`, whose paths are the server's (a channel is shown them cut)."""

    def __init__(self, message: str, from_train: bool = False) -> None:
        super().__init__(message)
        self.from_train = from_train


@dataclass(frozen=True)
class Lesson:
    """What to learn: `book` (gutenberg:N or a file) becomes the model `name` in `folder`."""

    book: str
    name: str
    folder: Path
    minutes: float | None = None  # None: the training defaults (four passes over the book)
    replace: bool = False
    shown: str = ""  # how the book is named to people (an attachment's file name); default: `book`

    @property
    def target(self) -> Path:
        return self.folder / self.name

    @property
    def title(self) -> str:
        return self.shown or self.book

    def named(self, line: str) -> str:
        """A line of `python -m train` about this book, naming it as people named it (not by its path)."""
        return line.replace(self.book, self.title) if self.shown else line


@dataclass(frozen=True)
class LearnRequest:
    """A `/learn` or `!learn` line, parsed: the words other than options, and the options."""

    words: list[str]
    minutes: float | None = None
    replace: bool = False


def parse_request(text: str) -> LearnRequest:
    """`gutenberg:11 holmes --minutes 5 --replace` -> words and options; LearnError for a bad option."""
    try:
        tokens = shlex.split(text)
    except ValueError as exc:
        raise LearnError(f"cannot read that line: {exc}") from None
    words, minutes, replace = [], None, False
    while tokens:
        token = tokens.pop(0).replace("\u2014", "--", 1)  # phones turn -- into an em dash
        match = _OPTION.match(token)
        if match is None:
            words.append(token)
            continue
        if match[1] == "replace":
            replace = True
            continue
        value = match[2] if match[2] is not None else (tokens.pop(0) if tokens else "")
        try:
            minutes = float(value)
        except ValueError:
            raise LearnError(f"--minutes needs a number, not {value or 'nothing'}") from None
        if not 0 < minutes < 10_000:
            raise LearnError("--minutes must be a positive number of minutes")
    return LearnRequest(words, minutes, replace)


def check_name(name: str, folder: Path, taken: Collection[str] = (), replace: bool = False) -> str:
    """The model name, lowercased; LearnError when it is not a plain name, is a command (`taken` or
    RESERVED), or names an existing model without `replace`."""
    lowered = name.lower()
    if not _NAME.fullmatch(lowered):
        raise LearnError(f"{name[:40]!r} is not a model name: {NAME_RULE}")
    if lowered in RESERVED or (lowered in taken and not (folder / lowered).is_dir()):
        raise LearnError(f"the name {lowered} is one of my commands; pick another one")
    if (folder / lowered).exists() and not replace:
        raise LearnError(f"there is already a model called {lowered}; add --replace to train it again")
    return lowered


def check_minutes(asked: float | None, cap: float) -> float | None:
    """The time budget to train with: `asked`, else the cap (0: none, the training defaults)."""
    if cap and asked is not None and asked > cap:
        raise LearnError(f"--minutes {asked:g} is over this bot's limit of {cap:g} minutes")
    return asked if asked is not None else (cap or None)


def folder_bytes(folder: Path) -> int:
    """Bytes of every file under `folder` (0 when it does not exist)."""
    total = 0
    for root, _, files in os.walk(folder):
        for name in files:
            with contextlib.suppress(OSError):
                total += (Path(root) / name).stat().st_size
    return total


def check_room(folder: Path, limit_mb: float, book_bytes: int = 0) -> None:
    """LearnError when one more run (ROOM_MB and the book) would take the models folder past
    `limit_mb` (0: no limit), or the disk has not that much free."""
    need = ROOM_MB * 2**20 + book_bytes
    used = folder_bytes(folder)
    if limit_mb and used + need > limit_mb * 2**20:
        raise LearnError(f"the models folder holds {used / 2**20:,.0f} MB; one more model would pass its limit of "
                         f"{limit_mb:,.0f} MB (ALICE_LEARN_DISK_MB): remove a model first")
    folder.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(folder).free
    if free < need:
        raise LearnError(f"only {free / 2**20:,.0f} MB free on the disk of {folder}; a new model needs about "
                         f"{need / 2**20:,.0f} MB")


def temp_folder(folder: Path, name: str) -> Path:
    """A new hidden folder in the models folder `folder` for one run of `name` (deleted unless published)."""
    folder.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f"{TEMP_PREFIX}{name}-", dir=folder))
