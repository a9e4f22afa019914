"""`gutenberg:N`, how a book is named by its Project Gutenberg number (train/ reads it, bot/ checks it).

Free of torch and of the network: the download is train/gutenberg.py's.
"""

from __future__ import annotations

import re

PREFIX = "gutenberg:"


def is_gutenberg(spec: str) -> bool:
    """Whether `spec` names a Gutenberg book (the prefix in any case), not a file."""
    return spec[:len(PREFIX)].lower() == PREFIX


def gutenberg_number(spec: str) -> int | None:
    """N for `gutenberg:N`, None for anything else (a file); ValueError when N is not a positive whole
    number written in plain digits (int() alone would take "+5", " 5" and "1_000")."""
    if not is_gutenberg(spec):
        return None
    number = spec[len(PREFIX):]
    if not re.fullmatch(r"[0-9]+", number) or int(number) == 0:
        raise ValueError(f"{spec}: the book number must be a positive integer, as in gutenberg:11")
    return int(number)
