"""What a Discord channel is shown: people's text echoed exactly as typed, and never a server's folders.

Two functions and one gate. `echo` is the one escaping function: every piece of people's text a
message repeats (a model name, a book, a file name, an option's value, a role, an error that may
quote them) goes through it, so it shows as typed: no markdown, no mention. `unpathed` takes
absolute paths and URLs out of a line from somewhere else (the training child, an exception).
`for_channel` is the gate every line the bot itself writes passes on its way out (`send`, `edit`,
`answer`): the server's own folders (models, temp, home, the Python install, this package, the
working folder) are cut down to their last part, whatever wrote the line. The full line, paths
and all, is for the bot's log. People's seeds and the model's words are shown by bot/discord_app/streaming_reply.py's
`render`, escaped by `echo` too.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
import tempfile
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

import discord

log = logging.getLogger(__name__)

NO_MENTIONS = discord.AllowedMentions.none()
_END = r"""[^\s/\\'"`,;:()<>\[\]]"""  # a character of a path's part
_ABSOLUTE = re.compile(rf"(?<![\w.~/\\-])(?:~|[A-Za-z]:)?(?:[/\\]{_END}+){{2,}}[/\\]?")  # two parts at least
_URL = re.compile(r"\b[a-z][a-z0-9+.-]*://[^\s;,)]*[^\s;,):.]", re.IGNORECASE)


def echo(text: str) -> str:
    """People's text (or a plain line holding it) shown exactly as typed: markdown and mentions escaped."""
    return discord.utils.escape_mentions(discord.utils.escape_markdown(text))


def last_part(path: str) -> str:
    """`/srv/alice/models/.learn-x/upload/pic.txt` -> `pic.txt` (a folder alone: `…`)."""
    parts = [part for part in re.split(r"[/\\]", path.rstrip("/\\")) if part]
    return parts[-1] if parts and not parts[-1].endswith(":") else "\u2026"


def unpathed(line: str) -> str:
    """A line from a program (the training child, an exception) with every absolute path and URL
    cut down to its last part: `/srv/m/.learn-x/upload/pic.txt: ...` -> `pic.txt: ...`."""
    line = _URL.sub(lambda match: last_part(match[0].split("?")[0]), line)
    return _ABSOLUTE.sub(lambda match: last_part(match[0]), line)


@lru_cache(maxsize=1)
def _server_folders(extra: tuple[str, ...]) -> tuple[str, ...]:
    """The folders of this machine that no channel is shown, longest first (so a folder inside
    another is cut as a whole)."""
    found = {sys.prefix, sys.base_prefix, sys.exec_prefix, tempfile.gettempdir(), str(Path.home()),
             str(Path(__file__).resolve().parents[2]), *extra}
    with contextlib.suppress(OSError):
        found.add(os.getcwd())
    for folder in list(found):
        with contextlib.suppress(OSError, RuntimeError):
            found.add(str(Path(folder).expanduser().resolve()))
    return tuple(sorted((f.rstrip("/\\") for f in found if len(f.rstrip("/\\")) > 1), key=len, reverse=True))


_EXTRA: list[str] = []  # folders named in the bot's settings (ALICE_MODELS_DIR, ALICE_MODEL)


def hide_folders(folders: Iterable[str | os.PathLike]) -> None:
    """Add the settings' folders (models, model) to those no channel is shown."""
    _EXTRA.extend(str(Path(f).expanduser()) for f in folders if str(f))
    _server_folders.cache_clear()


def for_channel(line: str) -> str:
    """The gate of every line the bot writes: each of the server's folders, and whatever path goes
    on inside it, is cut down to the last part (`/srv/alice/models/x/config.json` -> `config.json`)."""
    for folder in _server_folders(tuple(_EXTRA)):
        if folder in line:
            pattern = re.escape(folder) + rf"(?![\w.-])(?:[/\\]{_END}*)*"
            line = re.sub(pattern, lambda match: last_part(match[0]), line)
    return line


async def send(target: discord.abc.Messageable, line: str, **options) -> discord.Message:
    """Post one of the bot's own lines (through the gate, mentioning nobody)."""
    return await target.send(for_channel(line), allowed_mentions=NO_MENTIONS, **options)


async def edit(message: discord.Message, line: str, **options) -> discord.Message:
    """Edit one of the bot's own messages to `line` (through the gate, mentioning nobody)."""
    return await message.edit(content=for_channel(line), allowed_mentions=NO_MENTIONS, **options)


async def answer(interaction: discord.Interaction, line: str) -> None:
    """Tell only the person who pressed or typed (an ephemeral message), through the gate."""
    line = for_channel(line)
    if interaction.response.is_done():
        await interaction.followup.send(line, ephemeral=True, allowed_mentions=NO_MENTIONS)
    else:
        await interaction.response.send_message(line, ephemeral=True, allowed_mentions=NO_MENTIONS)
