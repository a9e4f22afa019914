"""Text people type, made safe to keep and print whatever the locale.

Bytes that are not valid UTF-8 reach Python in two ways: as surrogate escapes (argv, prompt_toolkit's
terminal input) that no strict UTF-8 writer can encode, or as a UnicodeDecodeError from a strict stdin.
Both become U+FFFD here, at the edge, so nothing further in has to care.
"""

from __future__ import annotations

import io
from typing import TextIO

REPLACEMENT = "\ufffd"


def readable(text: str) -> str:
    """`text` with each undecodable byte (a surrogate escape, or any lone surrogate) as U+FFFD."""
    if not any("\ud800" <= c <= "\udfff" for c in text):
        return text
    return "".join(REPLACEMENT if "\ud800" <= c <= "\udfff" else c for c in text)


def forgiving(stream: TextIO) -> TextIO:
    """`stream` replacing what it cannot decode (stdin: U+FFFD) or encode (stdout in a narrow locale)
    instead of raising halfway through a generation."""
    if isinstance(stream, io.TextIOWrapper) and stream.errors == "strict":
        stream.reconfigure(errors="replace")
    return stream
