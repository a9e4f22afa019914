"""The layout guard: what a row may not write next, so that text never turns into page layout.

Books carry layout the models learnt (centred headings, ornament rows, indentation, chapter
headings); a continuation is prose. Every row of the batch keeps a few counters here, updated with
each character it writes, and the guard bans, per row:
- a space once the current run of spaces is MAX_SPACES long (the books' own longest run), or MAX_INDENT
  at the start of a line (the books indent verse by 4 or 8; deeper is centring);
- a line break once the white space since the last text holds a blank line (one blank line at most);
- any white space while a row started from an empty seed has written nothing but white space;
- an ornament character (`*`, `=`, `_`, `~`, `#`) on a line with no letter yet (ornament rows);
- `t` after `chap` at the start of a line (a chapter heading) unless the story itself has one.
Rows that may write anything else are unaffected. Vectorised over rows: a few numpy operations a step.
"""

from __future__ import annotations

import re

import numpy as np

from engine.vocab import Vocab

MAX_SPACES = 24  # the longest run of spaces in the books' own text
MAX_INDENT = 8  # the deepest indentation of the books' verse
ORNAMENTS = "*=_~#"  # characters that make a row of ornaments when a line has no letter before them
HEADING = "chap"  # a line starting with this may not go on to "chapt(er)"
_HEADING_IN_TEXT = re.compile(r"(^|\n)[ \t]*chapter\b", re.IGNORECASE)


class LayoutGuard:
    """Per-row layout counters for a batch (rows join, leave and write together with the batch's)."""

    def __init__(self, vocab: Vocab) -> None:
        size = len(vocab.chars)
        self._space = np.zeros(size, dtype=bool)
        self._newline = np.zeros(size, dtype=bool)
        self._blank = np.array([c.isspace() for c in vocab.chars], dtype=bool)  # white space of any kind
        self._letter = np.array([c.isalpha() for c in vocab.chars], dtype=bool)
        self._ornament = np.array([c in ORNAMENTS for c in vocab.chars], dtype=bool)
        for i, c in enumerate(vocab.chars):
            self._space[i], self._newline[i] = c == " ", c == "\n"
        # progress through HEADING at a line's start: the id that moves from step k to k + 1
        self._heading = np.array([vocab.chars.index(c) if c in vocab.chars else -1 for c in HEADING + "t"])
        self._vocab = vocab
        self.spaces = np.zeros(0, dtype=np.int32)  # the current run of spaces
        self.breaks = np.zeros(0, dtype=np.int32)  # line breaks since the last character that is not white space
        self.letter = np.zeros(0, dtype=bool)  # the current line has a letter
        self.heading = np.zeros(0, dtype=np.int32)  # characters of HEADING the line starts with (-1: it does not)
        self.fresh = np.zeros(0, dtype=bool)  # started from an empty seed, nothing but white space written yet
        self.headings_ok = np.zeros(0, dtype=bool)  # the story has chapter headings or ornaments of its own

    def start(self, text: str, fresh: bool) -> tuple[int, int, bool, int, bool, bool]:
        """A newcomer's counters after `text` (the end of what it has read)."""
        tail = text[-200:]
        spaces = len(tail) - len(tail.rstrip(" "))
        stripped = tail.rstrip()
        breaks = tail[len(stripped):].count("\n")
        line = tail[tail.rfind("\n") + 1:]
        head = line.lstrip()
        heading = len(head) if HEADING.startswith(head) else -1
        allowed = bool(_HEADING_IN_TEXT.search(text)) or any(c in text for c in ORNAMENTS)
        return spaces, breaks, any(c.isalpha() for c in line), heading, fresh, allowed

    def join(self, starts: list[tuple[int, int, bool, int, bool, bool]]) -> None:
        """Add rows with the counters `start` gave them."""
        if not starts:
            return
        columns = list(zip(*starts, strict=True))
        self.spaces = np.concatenate([self.spaces, np.array(columns[0], dtype=np.int32)])
        self.breaks = np.concatenate([self.breaks, np.array(columns[1], dtype=np.int32)])
        self.letter = np.concatenate([self.letter, np.array(columns[2], dtype=bool)])
        self.heading = np.concatenate([self.heading, np.array(columns[3], dtype=np.int32)])
        self.fresh = np.concatenate([self.fresh, np.array(columns[4], dtype=bool)])
        self.headings_ok = np.concatenate([self.headings_ok, np.array(columns[5], dtype=bool)])

    def keep(self, going: np.ndarray) -> None:
        """Keep the rows marked True."""
        self.spaces, self.breaks, self.letter = self.spaces[going], self.breaks[going], self.letter[going]
        self.heading, self.fresh, self.headings_ok = self.heading[going], self.fresh[going], self.headings_ok[going]

    def banned(self) -> np.ndarray | None:
        """bool [rows, vocab]: what each row may not write next (None when nothing is banned)."""
        spaces = (self.spaces >= MAX_SPACES) | ((self.spaces >= MAX_INDENT) & (self.heading == 0))
        breaks = self.breaks >= 2
        bare = ~self.letter & ~self.headings_ok
        heading = (self.heading == len(HEADING)) & ~self.headings_ok
        if not (spaces.any() or breaks.any() or self.fresh.any() or bare.any() or heading.any()):
            return None
        out = np.zeros((len(self.spaces), len(self._space)), dtype=bool)
        out |= spaces[:, None] & self._space
        out |= breaks[:, None] & self._newline
        out |= self.fresh[:, None] & self._blank
        out |= bare[:, None] & self._ornament
        if heading.any() and self._heading[-1] >= 0:
            out[heading, self._heading[-1]] = True
        return out

    def advance(self, ids: np.ndarray) -> None:
        """Every row's counters after writing `ids`."""
        space, newline, blank = self._space[ids], self._newline[ids], self._blank[ids]
        self.spaces = np.where(space, self.spaces + 1, 0).astype(np.int32)
        self.breaks = np.where(blank, self.breaks + newline, 0).astype(np.int32)
        self.letter = np.where(newline, False, self.letter | self._letter[ids])
        self.fresh &= blank
        # HEADING's progress: a line break restarts it, spaces before any letter keep it, its next letter moves it
        step = np.clip(self.heading, 0, len(HEADING))
        moves = (self.heading >= 0) & (self.heading < len(HEADING)) & (ids == self._heading[step])
        waits = (self.heading == 0) & blank
        self.heading = np.where(newline, 0, np.where(moves, self.heading + 1, np.where(waits, 0, -1))).astype(np.int32)


def is_blank(text: str) -> bool:
    """Whether a continuation holds nothing but white space."""
    return not text.strip()
